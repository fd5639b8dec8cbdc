package server

import (
	"log/slog"
	"net/http"

	"github.com/fountainai/fountain/console"
	"github.com/fountainai/fountain/docs"
)

// withConsole puts the web console in front of the API: it serves / and
// /ui/, and hands every other request to the API as it came. Its sessions
// are its own; the API's bearer token authorizes only the API.
func withConsole(cfg Config, api http.Handler, token string, log *slog.Logger) (http.Handler, error) {
	return console.New(console.Config{API: api, Token: token, Logger: log, Docs: docs.FS,
		TrustForwardedProto: envBool(cfg.Getenv("FOUNTAIN_TRUST_FORWARDED_PROTO"))})
}

// envBool reads a yes/no environment value.
func envBool(v string) bool {
	switch v {
	case "1", "true", "TRUE", "True", "yes":
		return true
	}
	return false
}
