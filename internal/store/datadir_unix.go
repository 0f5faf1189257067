//go:build unix

package store

import (
	"io/fs"
	"os"
	"slices"
	"syscall"
)

// ownGroup reports whether fi's group is one the process runs with: its
// effective group or a supplementary one, as the fsGroup of a Kubernetes
// volume is.
func ownGroup(fi fs.FileInfo) (gid int, own bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return -1, false
	}
	gid = int(st.Gid)
	if gid == os.Getegid() {
		return gid, true
	}
	groups, err := os.Getgroups()
	return gid, err == nil && slices.Contains(groups, gid)
}
