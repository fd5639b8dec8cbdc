// Package kong is Fountain's client of Kong Gateway in DB-less mode: its
// declarative configuration as data, and its Admin API.
//
// The configuration side is pure. Parse reads a declarative configuration
// given as YAML or JSON and checks its structure before Kong sees it
// (_format_version, Kong's top-level keys, sections that are lists of
// objects); Kong's own validation decides the rest. A Config renders as
// canonical YAML (keys in a stable order, values by meaning), so two texts
// that mean the same have the same YAML and the same Hash. AddRoute,
// RemoveRoute and ListRoutes manage a service and its route by name; Diff
// shows what a change would do. Decoding counts what YAML aliases expand
// to and stops at a budget, so that no text makes Parse run long or use
// much memory.
//
// Check checks, without I/O, what Fountain can of a configuration it is
// asked to apply by Kong 3.9's own rules (names, paths, hosts, methods,
// protocols, service urls, targets), and CheckUpstreams that no upstream
// is Kong itself (loopback, link-local, unspecified, multicast, localhost
// names), reading hosts as Kong, nginx and the C resolver do.
// SecretValues lists a configuration's credentials to mask, by Kong's
// schemas (fields marked encrypted or referenceable) and by name.
//
// Client speaks to Kong's Admin API over a given *http.Client (Fountain's
// goes through SSH to the host's loopback): Status, Info, Config, and Load,
// which posts a whole configuration with flatten_errors and check_hash and
// turns Kong's answer into changed/unchanged or a *ConfigError.
//
// Version is the record of one applied configuration, which the caller
// stores.
package kong
