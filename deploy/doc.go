// Package deploy holds the container packaging of the reconciler: the
// Dockerfile, a docker compose file that runs every process in its own
// container, and check.sh. It has no Go code; its tests (deploy_test.go)
// check that the packaging keeps to the process contract in the repository
// README and Procfile.
package deploy
