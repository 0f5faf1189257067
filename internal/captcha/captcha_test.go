package captcha_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/bizsec/bizsec/internal/captcha"
)

// TestVerify asks a siteverify service on loopback: what it is sent, and
// that every answer but a well-formed success is no, with an error when
// the service could not say.
func TestVerify(t *testing.T) {
	for _, tc := range []struct {
		name    string
		status  int
		body    string
		ok      bool
		wantErr bool
	}{
		{"success", 200, `{"success":true,"hostname":"acme.example"}`, true, false},
		{"refused", 200, `{"success":false,"error-codes":["invalid-input-response"]}`, false, false},
		{"not JSON", 200, `<html>`, false, true},
		{"server error", 500, `{"success":true}`, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got map[string]string
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if err := r.ParseForm(); err != nil || r.Method != http.MethodPost {
					http.Error(w, "bad request", 400)
					return
				}
				got = map[string]string{"secret": r.PostForm.Get("secret"), "response": r.PostForm.Get("response"), "remoteip": r.PostForm.Get("remoteip")}
				w.WriteHeader(tc.status)
				w.Write([]byte(tc.body))
			}))
			defer srv.Close()
			ok, err := captcha.New(srv.URL).Verify(context.Background(), "s3cret", "token", "192.0.2.7")
			if ok != tc.ok || (err != nil) != tc.wantErr {
				t.Fatalf("Verify = %v, %v; want %v, error %v", ok, err, tc.ok, tc.wantErr)
			}
			if got["secret"] != "s3cret" || got["response"] != "token" || got["remoteip"] != "192.0.2.7" {
				t.Errorf("the service was sent %v", got)
			}
		})
	}
}

// TestVerifyUnreachable: a service that does not answer in time is an
// error (the login is refused), not a yes.
func TestVerifyUnreachable(t *testing.T) {
	stall := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-stall:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(stall)
	v := captcha.New(srv.URL)
	v.Client.Timeout = 50 * time.Millisecond
	if ok, err := v.Verify(context.Background(), "s", "r", ""); ok || err == nil {
		t.Errorf("a stalled service: Verify = %v, %v; want false and an error", ok, err)
	}
}
