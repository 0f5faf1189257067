//go:build unix

package main

import (
	"os"
	"syscall"
)

// lockFile holds an exclusive lock on name (created 0600) until the
// returned function is called: commands running at once renew a kept
// session one after the other.
func lockFile(name string) (func(), error) {
	f, err := os.OpenFile(name, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, err
	}
	return func() { syscall.Flock(int(f.Fd()), syscall.LOCK_UN); f.Close() }, nil
}
