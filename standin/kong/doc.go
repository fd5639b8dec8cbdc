// Package kong is Fountain's stand-in for Kong Gateway 3.9 in DB-less mode,
// for sandbox hosts and tests only: Kong itself cannot be downloaded where
// Fountain is developed, so this package answers like Kong does for what a
// DB-less deployment uses.
//
// It reads Kong's settings from the environment like Kong's Docker image
// (KONG_DATABASE=off, KONG_DECLARATIVE_CONFIG, KONG_PROXY_LISTEN,
// KONG_ADMIN_LISTEN), validates declarative configurations with Kong's
// messages and error bodies (code 14, flattened_errors), serves the Admin
// API routes a DB-less deployment needs (GET /, /status, GET|POST /config,
// read-only entity lists) and proxies requests by host and longest path
// prefix to the services, with Kong's 404, 502 and Via headers.
//
// Every answer carries the header X-Fountain-Standin: kong, and the Admin
// API's tagline names the stand-in. Plugins are validated by name against
// Kong 3.9's bundled plugins and stored as given; the proxy does not run
// them.
package kong
