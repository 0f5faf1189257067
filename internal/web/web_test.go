package web

import (
	"io"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

// TestHandler serves the console under its prefix with a policy that runs
// only the console's own script, and the page holds no inline script or
// handler that the policy would block.
func TestHandler(t *testing.T) {
	h := Handler("/console/")
	for _, path := range []string{"/console/", "/console/app.js", "/console/style.css"} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		if rec.Code != 200 {
			t.Fatalf("GET %s: %d", path, rec.Code)
		}
		csp := rec.Header().Get("Content-Security-Policy")
		if !strings.Contains(csp, "default-src 'self'") || strings.Contains(csp, "unsafe-inline") {
			t.Errorf("GET %s: Content-Security-Policy %q", path, csp)
		}
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/console/", nil))
	page, _ := io.ReadAll(rec.Body)
	if m := regexp.MustCompile(`<script(?:[^>]*)>[^<]+</script>|\son[a-z]+=|javascript:|style="`).Find(page); m != nil {
		t.Errorf("index.html holds %q, which the policy blocks", m)
	}
}
