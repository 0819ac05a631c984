package reconcile

// For the tests of the inbox's index on waiting events.
const WaitingStatusSQL = waitingStatusSQL

var Waiting = waiting

// For the tests of the jobs' index on unfinished jobs.
const UnfinishedJobSQL = unfinishedJobSQL

var ClaimJobsSQL = claimJobsSQL

// For the test of the jobs' prune.
const PruneJobsSQL = pruneJobs
