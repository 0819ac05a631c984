package reconcile

// For the tests of the inbox's index on waiting events.
const WaitingStatusSQL = waitingStatusSQL

var Waiting = waiting
