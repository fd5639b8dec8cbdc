// Package delivery holds no code: its tests check Fountain's own delivery
// files at the repository root. The GitHub Actions workflows pass actionlint
// and keep the rules (tests before any push, packages: write only on the job
// that pushes, current action versions); docker-compose.yml loads with
// compose-go and keeps Kong's Admin API unpublished; and the Dockerfile's
// runtime stage, built from a binary compiled by the test, runs as a
// non-root user and reports healthy.
package delivery
