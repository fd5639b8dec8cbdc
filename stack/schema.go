package stack

import (
	"encoding/json"
	"reflect"
	"sync"

	"github.com/danielgtaylor/huma/v2"
)

// SchemaID is the JSON Schema's $id: where a server serves it.
const SchemaID = "/schemas/stack.json"

var schemaOnce = sync.OnceValues(buildSchema)

// JSONSchema returns the stack file's JSON Schema (draft 2020-12),
// generated from the Go types with huma's schema registry, as the API's
// own schemas are: every member described from its doc tag, required
// members and limits as Parse enforces them, no other members allowed.
// Editors use it for completion and checks (yaml-language-server:
// # yaml-language-server: $schema=http://127.0.0.1:8000/schemas/stack.json).
func JSONSchema() ([]byte, error) { return schemaOnce() }

func buildSchema() ([]byte, error) {
	reg := huma.NewMapRegistry("#/$defs/", huma.DefaultSchemaNamer)
	reg.Schema(reflect.TypeOf(Stack{}), true, "Stack")
	defs := reg.Map()
	for _, s := range defs {
		notNull(s)
	}
	doc := map[string]any{
		"$schema":     "https://json-schema.org/draft/2020-12/schema",
		"$id":         SchemaID,
		"title":       "fountain.yml",
		"description": "A Fountain stack file: one region's desired infrastructure (Lightsail instances, OpenSearch, Kong and its routes, Docker apps, GitHub secrets and workflow). Secret values never appear in it: it names secrets kept in Fountain's vault (fountain vault set NAME).",
		"$ref":        "#/$defs/Stack",
		"$defs":       defs,
	}
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// notNull makes every value of s non-nullable: Parse refuses null
// everywhere (huma makes lists nullable by default).
func notNull(s *huma.Schema) {
	if s == nil {
		return
	}
	s.Nullable = false
	notNull(s.Items)
	if ap, ok := s.AdditionalProperties.(*huma.Schema); ok {
		notNull(ap)
	}
	for _, p := range s.Properties {
		notNull(p)
	}
}
