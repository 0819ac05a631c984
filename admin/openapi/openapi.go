// Package openapi holds the OpenAPI 3.0 description of the service's HTTP
// surface: the admin API, the Stripe webhook receiver and the health
// probes. The document is written by hand beside the contract
// (/work/shared/API.md); admin's tests check it against the real handlers,
// so a route or a field that drifts from it fails there.
package openapi

import _ "embed" // the document is compiled in

//go:embed openapi.yaml
var document string

// Document returns the OpenAPI document (YAML). Each call returns a fresh
// copy, so a caller may keep or change it.
func Document() []byte { return []byte(document) }
