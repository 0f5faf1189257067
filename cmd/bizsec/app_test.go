package main

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bizsec/bizsec/internal/store"
)

// openMain opens a Main for serve's args, as serve does.
func openMain(t *testing.T, args ...string) *Main {
	t.Helper()
	_, o, _, _, err := parseServe(args, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	k, err := o.check()
	if err != nil {
		t.Fatal(err)
	}
	m := NewMain(o, k, slog.New(slog.DiscardHandler), io.Discard)
	if err := m.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	return m
}

// queuedResets is how many password resets wait in dir's database.
func queuedResets(t *testing.T, dir string) int {
	t.Helper()
	st, err := store.OpenSQLite(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	n, err := st.ResetQueueLen(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestMainLifecycle: Open builds the server and starts no worker (a queued
// reset stays queued through Open and Close); Run starts the mail worker
// and the serving; Close stops them and frees the listener, the data
// directory's lock and the database.
func TestMainLifecycle(t *testing.T) {
	dir := t.TempDir()
	setupTenant(t, []string{"-data", dir})
	st, err := store.OpenSQLite(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.EnqueueReset(context.Background(), "acme", "admin@acme.example", time.Now()); err != nil {
		t.Fatal(err)
	}
	st.Close()
	args := []string{"-data", dir, "-listen", "127.0.0.1:0", "-ops-listen", "public", "-bootstrap-tenant", ""}

	m := openMain(t, args...)
	if err := m.Close(); err != nil {
		t.Fatalf("Close without Run: %v", err)
	}
	if n := queuedResets(t, dir); n != 1 {
		t.Fatalf("after Open and Close without Run: %d resets queued, want the 1 left alone", n)
	}

	m = openMain(t, args...)
	addr := m.Listener.Addr().String()
	m.Run(context.Background())
	resp, err := http.Get("http://" + addr + "/healthz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET /healthz while running: %v %v", resp, err)
	}
	resp.Body.Close()
	outbox := filepath.Join(dir, "outbox")
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if files, _ := filepath.Glob(filepath.Join(outbox, "*.eml")); len(files) == 1 {
			b, _ := os.ReadFile(files[0])
			if !strings.Contains(string(b), "Reset your password") {
				t.Errorf("the outbox holds %q, want the reset code", b)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("Run's mail worker did not mail the queued reset within 10 s")
		}
	}
	if err := m.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if n := queuedResets(t, dir); n != 0 {
		t.Errorf("after Run: %d resets queued, want 0", n)
	}
	if c, err := net.Dial("tcp", addr); err == nil {
		c.Close()
		t.Errorf("%s still accepts connections after Close", addr)
	}
	// The lock is free: another Main opens the same directory.
	openMain(t, args...).Close()
}
