package admin

import (
	"net/http"

	"github.com/payrecon/reconciler/admin/openapi"
)

// ServeOpenAPI answers GET /admin/openapi.yaml with the OpenAPI description
// of this API. The API serves it behind the bearer token like every /admin
// route (the document is no secret, but an unauthenticated route under
// /admin would be the one exception to a simple rule); the web process
// also serves it to a browser with a console session.
func ServeOpenAPI(w http.ResponseWriter, _ *http.Request) {
	doc := openapi.Document()
	w.Header().Set("Content-Type", "application/yaml")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(doc) // a caller that hung up has nothing to learn
}
