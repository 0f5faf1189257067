//go:build unix

package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// LockDataDir takes the lock that makes a server the only one serving the
// SQLite database in dir: a second server there would serve settings from
// a cache the first one's writes never invalidate. The CLI's commands do
// not take it; they write what the server polls. Release the lock with
// the returned function (the OS releases it if the process dies).
func LockDataDir(dir string) (func(), error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("store: create data directory: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(dir, "server.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("store: lock data directory: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("another bizsec server is already serving the data directory %s; stop it first, "+
				"or give this one its own -data (several servers need PostgreSQL: -database)", dir)
		}
		return nil, fmt.Errorf("store: lock data directory: %w", err)
	}
	return func() { syscall.Flock(int(f.Fd()), syscall.LOCK_UN); f.Close() }, nil
}
