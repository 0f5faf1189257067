//go:build !unix

package store

// LockDataDir is a no-op where flock(2) is not available.
func LockDataDir(dir string) (func(), error) { return func() {}, nil }
