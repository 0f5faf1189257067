package httpapi

import (
	"bytes"
	"context"
	_ "embed"
	"net/http"
	"regexp"

	"github.com/bizsec/bizsec/internal/fault"
	"github.com/bizsec/bizsec/internal/store"
)

// openAPI describes every operation; tests check it against the route
// table, the wire structs, the descriptors' bounds and the server's real
// answers.
//
//go:embed openapi/openapi.json
var openAPI []byte

// tenantTemplate is how the document spells the tenant in the names of
// the auth cookie, the CSRF cookie and the CSRF header.
var tenantTemplate = []byte("_{tenant}")

// tenantID is what a tenant ID may be (store.CreateTenant's rule), so a
// valid one can be put into the document as it is.
var tenantID = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9-]{0,62}$`)

// serveOpenAPI answers the document; with ?tenant=ID, one whose security
// schemes name that tenant's cookie and CSRF header as they are on the
// wire (AtmoAuthToken_ID, X-Csrf-Token_ID), which cookie-aware tools such
// as Prism and generated clients need.
func (s *Server) serveOpenAPI(w http.ResponseWriter, r *http.Request) {
	doc := openAPI
	if q := r.URL.Query(); q.Has("tenant") {
		tenant := q.Get("tenant")
		if len(q["tenant"]) != 1 || !tenantID.MatchString(tenant) {
			writeError(w, r, s.log, "", fault.New(fault.Invalid, "tenant must be one tenant ID: letters, digits and dashes (at most 63)"))
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), s.dbTimeout) // off the adapter, so its own deadline
		defer cancel()
		if _, err := s.login.Business(ctx, store.RootBusinessID(tenant)); err != nil {
			if fault.CodeOf(err) == fault.NotFound {
				err = fault.New(fault.NotFound, "no such tenant")
			}
			writeError(w, r, s.log, "", err)
			return
		}
		doc = bytes.ReplaceAll(openAPI, tenantTemplate, []byte("_"+tenant))
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(doc)
}

// servedRoute is one pattern the route table registered and the media
// types it accepts and answers; TestDocumentIsTheRouteTable compares them
// with the document.
type servedRoute struct {
	pattern string
	types   mediaTypes
}
