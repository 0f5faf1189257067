// Package web serves the admin console: static files embedded in the
// binary, talking to the same REST API as every other client.
package web

import (
	"embed"
	"io/fs"
	"net/http"
)

//go:embed static
var static embed.FS

// Handler serves the console under the prefix it is mounted at.
func Handler(prefix string) http.Handler {
	files, _ := fs.Sub(static, "static")
	fileServer := http.StripPrefix(prefix, http.FileServerFS(files))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The page runs only its own script and talks only to this server; its
		// images are its own, or blobs it fetched from this server (the QR code
		// of an authenticator app's key, fetched with the CSRF header).
		w.Header().Set("Content-Security-Policy", "default-src 'self'; img-src 'self' blob:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Referrer-Policy", "no-referrer")
		w.Header().Set("Cache-Control", "no-cache")
		fileServer.ServeHTTP(w, r)
	})
}
