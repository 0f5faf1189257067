package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
)

// TestBackupUnderLoadAndRestore: bizsec backup -with-key while PUTs stream
// into the running server; the backup restores into a new directory with
// the same key, a server there logs the admin in and holds a value at least
// as new as the last write acknowledged before the backup began. Restoring
// over a database needs -force; a wrong passphrase restores nothing; a
// backup without the key says so loudly.
func TestBackupUnderLoadAndRestore(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	setupTenant(t, []string{"-data", data})
	p := startServer(t, "-data", data, "-drain", "0")
	a := loginAdmin(t, p.base)
	var acked atomic.Int64
	stop := make(chan struct{})
	writer := make(chan error, 1)
	go func() {
		for i := int64(1); ; i++ {
			select {
			case <-stop:
				writer <- nil
				return
			default:
			}
			resp, _, err := a.do("PUT", "/api/businesses/tenantbusiness.acme/loginpolicy", fmt.Sprintf(`{"AttemptsPeriod":"%d"}`, i))
			if err != nil || resp.StatusCode != 200 {
				writer <- fmt.Errorf("PUT %d: %v %v", i, err, resp)
				return
			}
			acked.Store(i)
		}
	}()
	for acked.Load() < 20 {
		select {
		case err := <-writer:
			t.Fatal(err)
		default:
		}
	}
	before := acked.Load()
	env := []string{"BIZSEC_BACKUP_PASSPHRASE=correct horse battery staple"}
	backup := filepath.Join(dir, "bizsec.backup")
	code, out, stderr := runBin(t, env, "", "backup", "-data", data, "-o", backup, "-with-key")
	during := acked.Load()
	close(stop)
	if err := <-writer; err != nil {
		t.Fatal(err)
	}
	if code != 0 || !strings.Contains(out, "secret key sealed") {
		t.Fatalf("backup: exit %d\n%s%s", code, out, stderr)
	}
	if during == before {
		t.Log("no write was acknowledged while the backup ran")
	}
	if fi, err := os.Stat(backup); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("backup file: %v %v, want 0600", fi.Mode(), err)
	}
	if code, _, _ := runBin(t, env, "", "backup", "-data", data, "-o", backup); code == 0 {
		t.Error("backup overwrote an existing file")
	}
	if code, _, stderr := runBin(t, env, "", "restore", "-data", data, "-i", backup); code == 0 || !strings.Contains(stderr, "another bizsec server is already serving") {
		t.Errorf("restore into a served directory: exit %d %s", code, stderr)
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	<-p.done

	restored := filepath.Join(dir, "restored")
	if code, _, stderr := runBin(t, []string{"BIZSEC_BACKUP_PASSPHRASE=wrong passphrase!"}, "", "restore", "-data", restored, "-i", backup); code == 0 || !strings.Contains(stderr, "wrong passphrase") {
		t.Errorf("wrong passphrase: exit %d %s", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(restored, "bizsec.db")); !os.IsNotExist(err) {
		t.Error("a refused restore wrote the database")
	}
	// The passphrase on standard input, as a script pipes it.
	if code, out, stderr := runBin(t, nil, "correct horse battery staple\n", "restore", "-data", restored, "-i", backup); code != 0 {
		t.Fatalf("restore: exit %d\n%s%s", code, out, stderr)
	}
	orig, _ := os.ReadFile(filepath.Join(data, "secret.key"))
	got, _ := os.ReadFile(filepath.Join(restored, "secret.key"))
	if string(orig) == "" || string(orig) != string(got) {
		t.Error("the restored secret key is not the original")
	}
	if code, _, stderr := runBin(t, env, "", "restore", "-data", restored, "-i", backup); code != exitRefused || !strings.Contains(stderr, "-force") {
		t.Errorf("restore over a database without -force: exit %d %s", code, stderr)
	}
	if code, _, stderr := runBin(t, env, "", "restore", "-data", restored, "-i", backup, "-force"); code != 0 {
		t.Errorf("restore -force: exit %d %s", code, stderr)
	}
	replaced, _ := filepath.Glob(filepath.Join(restored, "bizsec.db.replaced-*"))
	if len(replaced) == 0 {
		t.Error("-force kept no copy of the database it replaced")
	}

	q := startServer(t, "-data", restored, "-drain", "0")
	b := loginAdmin(t, q.base)
	_, body, err := b.do("GET", "/api/businesses/tenantbusiness.acme/loginpolicy", "")
	if err != nil {
		t.Fatal(err)
	}
	var lp struct{ AttemptsPeriod string }
	json.Unmarshal(body, &lp)
	var n int64
	fmt.Sscan(lp.AttemptsPeriod, &n)
	if n < before || n > during+1 {
		t.Errorf("restored AttemptsPeriod %d; %d writes were acknowledged before the backup began and %d when it ended", n, before, during)
	}
	t.Logf("backup under load: %d writes acknowledged before, %d after; the restore holds %d", before, during, n)

	code, _, stderr = runBin(t, nil, "", "backup", "-data", restored, "-o", filepath.Join(dir, "nokey.backup"))
	if code != 0 || !strings.Contains(stderr, "WARNING: this backup does not hold the secret key") {
		t.Errorf("backup without the key: exit %d %s", code, stderr)
	}
}

// TestMigrate: migrate -status says what is pending (exit 1), migrate
// applies it, -status then says up to date (exit 0).
func TestMigrate(t *testing.T) {
	args := dbArgs(t, "sqlite")
	code, out, _ := runBin(t, nil, "", append([]string{"migrate", "-status"}, args...)...)
	if code != exitRefused || !strings.Contains(out, "pending") {
		t.Errorf("status of an empty directory: exit %d %s", code, out)
	}
	if code, out, stderr := runBin(t, nil, "", append([]string{"migrate"}, args...)...); code != 0 || !strings.Contains(out, "up to date") {
		t.Errorf("migrate: exit %d %s %s", code, out, stderr)
	}
	if code, out, _ := runBin(t, nil, "", append([]string{"migrate", "-status"}, args...)...); code != 0 || !strings.Contains(out, "up to date") {
		t.Errorf("status after migrate: exit %d %s", code, out)
	}
}
