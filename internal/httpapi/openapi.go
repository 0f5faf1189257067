package httpapi

import (
	_ "embed"
	"net/http"
)

// openAPI describes every operation; a test checks the server's real
// answers against it.
//
//go:embed openapi/openapi.json
var openAPI []byte

func serveOpenAPI(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Write(openAPI)
}
