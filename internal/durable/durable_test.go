package durable_test

import (
	"bytes"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/bizsec/bizsec/internal/durable"
)

func TestWriteFile(t *testing.T) {
	for _, c := range []struct {
		name    string
		before  []byte // nil: no file there
		perm    os.FileMode
		content []byte
	}{
		{"new file", nil, 0o600, []byte("hello\n")},
		{"replaces a longer file", []byte("a much longer old content\n"), 0o600, []byte("new\n")},
		{"empty content", []byte("old"), 0o640, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			name := filepath.Join(dir, "f")
			if c.before != nil {
				if err := os.WriteFile(name, c.before, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if err := durable.WriteFile(name, c.content, c.perm); err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(name)
			if err != nil || !bytes.Equal(got, c.content) {
				t.Errorf("file holds %q (%v), want %q", got, err, c.content)
			}
			if fi, _ := os.Stat(name); c.before == nil && fi.Mode().Perm() != c.perm {
				t.Errorf("mode %v, want %v", fi.Mode().Perm(), c.perm)
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 1 {
				t.Errorf("directory holds %d entries, want only the file (no temporary left)", len(entries))
			}
		})
	}
	t.Run("missing directory", func(t *testing.T) {
		if err := durable.WriteFile(filepath.Join(t.TempDir(), "no", "f"), []byte("x"), 0o600); err == nil {
			t.Error("no error for a directory that does not exist")
		}
	})
}

// TestWriteFileIsWholeToReaders: a reader racing with writers sees one
// whole version or another, never a truncated or half-written file (what
// os.WriteFile shows it).
func TestWriteFileIsWholeToReaders(t *testing.T) {
	name := filepath.Join(t.TempDir(), "f")
	versions := [][]byte{bytes.Repeat([]byte("a"), 256<<10), bytes.Repeat([]byte("b"), 256<<10)}
	if err := durable.WriteFile(name, versions[0], 0o600); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	done := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(done)
		for i := range 40 {
			if err := durable.WriteFile(name, versions[i%2], 0o600); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	for reads := 0; ; reads++ {
		select {
		case <-done:
			wg.Wait()
			return
		default:
		}
		got, err := os.ReadFile(name)
		if err != nil {
			t.Fatalf("read %d: %v", reads, err)
		}
		if !bytes.Equal(got, versions[0]) && !bytes.Equal(got, versions[1]) {
			t.Fatalf("read %d saw %d bytes that are neither version", reads, len(got))
		}
	}
}
