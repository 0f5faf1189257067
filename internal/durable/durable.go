// Package durable writes files that are whole and on disk when the call
// returns: a reader sees the old file or the new one, never half of one,
// and a crash after the return loses nothing.
package durable

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
)

// WriteFile writes b to name with perm: to a hidden file beside it first,
// synced, then renamed over name, and the directory synced so the rename
// itself survives a crash.
func WriteFile(name string, b []byte, perm os.FileMode) error {
	dir, base := filepath.Split(name)
	suffix := make([]byte, 6)
	rand.Read(suffix)
	tmp := filepath.Join(dir, "."+base+"."+hex.EncodeToString(suffix)+".tmp")
	if err := writeSynced(tmp, b, perm); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, name); err != nil {
		os.Remove(tmp)
		return err
	}
	return SyncDir(filepath.Clean(dir + "."))
}

func writeSynced(name string, b []byte, perm os.FileMode) error {
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// SyncDir makes the entries created, renamed or removed in dir durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
