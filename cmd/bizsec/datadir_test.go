package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestGroupWritableDataDir: a data directory its group may write (mode
// 2775, as a Kubernetes volume with fsGroup) is served when that group is
// the process's own, left as it is, with the database files 0600; with a
// group the process is not in, or writable by others, it is refused.
func TestGroupWritableDataDir(t *testing.T) {
	t.Run("own group", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "volume")
		os.Mkdir(dir, 0o700)
		if err := os.Chown(dir, -1, os.Getegid()); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(dir, 0o2775|os.ModeSetgid); err != nil {
			t.Fatal(err)
		}
		setupTenant(t, []string{"-data", dir})
		p := startServer(t, "-data", dir, "-drain", "0")
		loginAdmin(t, p.base)
		fi, _ := os.Stat(dir)
		if fi.Mode().Perm() != 0o775 || fi.Mode()&os.ModeSetgid == 0 {
			t.Errorf("the directory became %v, want it left at 2775", fi.Mode())
		}
		for _, name := range []string{"bizsec.db", "bizsec.db-wal", "secret.key"} {
			if fi, err := os.Stat(filepath.Join(dir, name)); err != nil || fi.Mode().Perm() != 0o600 {
				t.Errorf("%s: %v %v, want 0600", name, fi.Mode(), err)
			}
		}
	})
	t.Run("others can write", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "volume")
		os.Mkdir(dir, 0o777)
		os.Chmod(dir, 0o777)
		code, _, stderr := runBin(t, nil, "", "serve", "-data", dir, "-listen", "127.0.0.1:0", "-ops-listen", "public")
		if code != exitServer || !strings.Contains(stderr, "can be written by other users") {
			t.Errorf("exit %d: %s", code, stderr)
		}
	})
	t.Run("another group", func(t *testing.T) {
		other := -1
		groups, _ := os.Getgroups()
		for gid := 1; gid < 100; gid++ {
			if gid != os.Getegid() && !contains(groups, gid) {
				other = gid
				break
			}
		}
		dir := filepath.Join(t.TempDir(), "volume")
		os.Mkdir(dir, 0o775)
		if err := os.Chown(dir, -1, other); err != nil {
			t.Skipf("SKIP: cannot give the directory a group this process is not in (%v); needs root", err)
		}
		os.Chmod(dir, 0o775)
		code, _, stderr := runBin(t, nil, "", "serve", "-data", dir, "-listen", "127.0.0.1:0", "-ops-listen", "public")
		if code != exitServer || !strings.Contains(stderr, "which this process is not in") {
			t.Errorf("exit %d: %s", code, stderr)
		}
		if _, err := os.Stat(filepath.Join(dir, "bizsec.db")); !os.IsNotExist(err) {
			t.Errorf("the refused serve created the database (%v)", err)
		}
	})
}

func contains(list []int, v int) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}
