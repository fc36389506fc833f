package services

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

func TestRedisStartStopPing(t *testing.T) {
	r, err := StartRedis()
	Require(t, err)
	t.Cleanup(func() { _ = r.Close() })
	if err := Ping(r.Addr(), time.Second); err != nil {
		t.Fatalf("PING: %v", err)
	}
	if err := r.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := Ping(r.Addr(), time.Second); err == nil {
		t.Fatal("PING answered after Stop")
	}
	if err := r.Start(); err != nil {
		t.Fatal(err)
	}
	if err := Ping(r.Addr(), time.Second); err != nil {
		t.Fatalf("PING after a restart: %v", err)
	}
	dir := r.dir
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("Close left %s: %v", dir, err)
	}
}

func TestPostgresStartStop(t *testing.T) {
	p, err := StartPostgres()
	Require(t, err)
	t.Cleanup(func() { _ = p.Close() })
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(p.Port))
	dial := func() error {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
		}
		return err
	}
	if err := dial(); err != nil {
		t.Fatalf("postgres does not listen on %s: %v", addr, err)
	}
	if _, err := os.Stat(filepath.Join(p.dir, ".s.PGSQL."+strconv.Itoa(p.Port))); err != nil {
		t.Fatalf("no unix socket in the server's directory: %v", err)
	}
	if err := p.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := dial(); err == nil {
		t.Fatal("postgres still listens after Stop")
	}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	if err := dial(); err != nil {
		t.Fatalf("postgres does not listen after a restart: %v", err)
	}
	dir := p.dir
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("Close left %s: %v", dir, err)
	}
}

// TestPostgresAsRootIgnoresPrivateTMPDIR: as root, with $TMPDIR a
// directory only root can enter (as under /root), the postgres user still
// reaches its cluster's directory.
func TestPostgresAsRootIgnoresPrivateTMPDIR(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("only as root")
	}
	private := t.TempDir()
	if err := os.Chmod(private, 0o700); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TMPDIR", private)
	p, err := StartPostgres()
	Require(t, err)
	defer p.Close()
	if rel, err := filepath.Rel(private, p.dir); err == nil && filepath.IsLocal(rel) {
		t.Fatalf("the cluster is under the private TMPDIR: %s", p.dir)
	}
}
