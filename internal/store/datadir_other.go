//go:build !unix

package store

import "io/fs"

// ownGroup: without Unix groups no group-writable directory is accepted.
func ownGroup(fs.FileInfo) (gid int, own bool) { return -1, false }
