//go:build unix

// Package pgtest runs a PostgreSQL server of a test's own, which the test
// can crash and start again: for the guarantees that must survive the
// database's death (an answered write is on disk). It uses PostgreSQL's
// server binaries (initdb, pg_ctl) from Debian's packages or the PATH, and
// runs only with the PostgreSQL tests (BIZSEC_TEST_POSTGRES set). As root
// it runs the server as the user postgres, since PostgreSQL refuses root.
package pgtest

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"syscall"
	"testing"
)

// Server is a PostgreSQL server in a temporary directory.
type Server struct {
	t        testing.TB
	bin, dir string
	port     int
	settings []string
	cred     *syscall.Credential // the postgres user's, when the test runs as root
	// URL reaches its database postgres as the superuser postgres.
	URL string
}

// Start initialises a cluster and starts it, with settings (name=value)
// added to its command line. The server stops when the test ends. It
// skips the test when the PostgreSQL tests are off or the binaries are
// not there.
func Start(t testing.TB, settings ...string) *Server {
	t.Helper()
	if os.Getenv("BIZSEC_TEST_POSTGRES") == "" {
		t.Skip("SKIP: needs BIZSEC_TEST_POSTGRES (a PostgreSQL server of the test's own)")
	}
	bin := binDir()
	if bin == "" {
		t.Skip("SKIP: no PostgreSQL server binaries (initdb, pg_ctl)")
	}
	s := &Server{t: t, bin: bin, settings: settings}
	dir, err := os.MkdirTemp("", "bizsec-pgtest-") // not t.TempDir: its parents are closed to the user postgres
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	s.dir = filepath.Join(dir, "data")
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Skip("SKIP: running as root, and there is no user postgres to run PostgreSQL as")
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		s.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	s.port = freePort(t)
	s.URL = fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", s.port)
	s.run("initdb", "-D", s.dir, "-A", "trust", "-U", "postgres", "--no-sync")
	s.Restart()
	t.Cleanup(func() { s.command("pg_ctl", "-D", s.dir, "stop", "-m", "immediate").Run() }) // perhaps down already
	return s
}

// Crash kills the server as a power cut would a process: an immediate
// shutdown, which writes nothing of what is only in its memory (the WAL
// not yet flushed). The OS keeps what the server had written.
func (s *Server) Crash() {
	s.t.Helper()
	s.pgCtl("stop", "-m", "immediate")
}

// Restart starts the server (after Crash: with crash recovery).
func (s *Server) Restart() {
	s.t.Helper()
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1", s.port, filepath.Dir(s.dir))
	for _, kv := range s.settings {
		opts += " -c " + kv
	}
	s.pgCtl("start", "-w", "-l", filepath.Join(filepath.Dir(s.dir), "log"), "-o", opts)
}

func (s *Server) pgCtl(args ...string) { s.run("pg_ctl", append([]string{"-D", s.dir}, args...)...) }

func (s *Server) command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(filepath.Join(s.bin, name), args...)
	cmd.Dir = filepath.Dir(s.dir) // one the user postgres may enter
	if s.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred}
	}
	return cmd
}

func (s *Server) run(name string, args ...string) {
	s.t.Helper()
	cmd := s.command(name, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		log, _ := os.ReadFile(filepath.Join(filepath.Dir(s.dir), "log"))
		s.t.Fatalf("%s %v: %v\n%s\nserver log:\n%s", name, args, err, out.Bytes(), log)
	}
}

// binDir is where initdb and pg_ctl are: the newest of Debian's
// /usr/lib/postgresql/N/bin, else the PATH's; "" when neither has them.
func binDir() string {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return version(dirs[i]) < version(dirs[j]) })
	for i := len(dirs) - 1; i >= 0; i-- {
		if _, err := os.Stat(filepath.Join(dirs[i], "initdb")); err == nil {
			return dirs[i]
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p)
	}
	return ""
}

func version(bin string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(bin)))
	return n
}

func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
