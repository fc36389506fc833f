// Package services starts real database servers for the tests that need
// them: PostgreSQL and Redis from Debian's packages (.ci/services installs
// them), each on a free loopback port, in a temporary directory of its own,
// until the test binary stops it. No mock stands in for them.
//
// A test binary starts a server once, in TestMain, and its tests share it
// (PostgreSQL starts in about a second: initdb, then the server). A server
// whose binary is missing gives an error wrapping [ErrNotInstalled]; pass
// the start error to [Require] in each test: it skips the test with a
// message, or fails it when CI=true, where the servers must be there.
//
// PostgreSQL's initdb refuses to run as root: when the test runs as root,
// initdb and postgres run as the `postgres` user the Debian package
// creates. The server listens on 127.0.0.1 only (TCP) and on a unix socket
// in its own directory, trusts every local connection (user "postgres", no
// password) and runs with fsync off: it holds test data only.
package services

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// ErrNotInstalled is wrapped by the error of a server whose binaries are
// not on this machine.
var ErrNotInstalled = errors.New("services: server not installed")

// StartTimeout bounds the wait for a server to accept connections, and
// StopTimeout the wait for it to exit (then it is killed).
const (
	StartTimeout = 30 * time.Second
	StopTimeout  = 10 * time.Second
	pollInterval = 10 * time.Millisecond
)

// Require fails or skips tb when err, the error of starting a server, is
// not nil: a server that is not installed skips the test with a message,
// unless CI=true, where it fails as every other start error does.
func Require(tb testing.TB, err error) {
	tb.Helper()
	switch {
	case err == nil:
	case errors.Is(err, ErrNotInstalled) && os.Getenv("CI") != "true":
		tb.Skipf("%v (run .ci/services as root to install it; with CI=true this test fails)", err)
	default:
		tb.Fatal(err)
	}
}

// freePort returns a TCP port that was free on 127.0.0.1 a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// process is a server process: its command, and a channel closed when it
// has exited.
type process struct {
	cmd    *exec.Cmd
	exited chan struct{}
	err    error // Wait's, once exited is closed
}

func start(cmd *exec.Cmd) (*process, error) {
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &process{cmd: cmd, exited: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.exited)
	}()
	return p, nil
}

// stop sends sig and waits StopTimeout for the process to exit, then kills
// its process group.
func (p *process) stop(sig os.Signal) error {
	if p == nil {
		return nil
	}
	_ = p.cmd.Process.Signal(sig)
	select {
	case <-p.exited:
		return nil
	case <-time.After(StopTimeout):
	}
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	<-p.exited
	return fmt.Errorf("services: %s did not stop within %v: killed", filepath.Base(p.cmd.Path), StopTimeout)
}

// waitReady polls ready every pollInterval until it returns nil, the
// process exits, or StartTimeout passes.
func (p *process) waitReady(what, logFile string, ready func() error) error {
	deadline := time.Now().Add(StartTimeout)
	for {
		err := ready()
		if err == nil {
			return nil
		}
		select {
		case <-p.exited:
			return fmt.Errorf("services: %s exited before accepting connections: %v\n%s", what, p.err, tail(logFile))
		default:
		}
		if time.Now().After(deadline) {
			_ = p.stop(syscall.SIGKILL)
			return fmt.Errorf("services: %s not ready within %v: %v\n%s", what, StartTimeout, err, tail(logFile))
		}
		time.Sleep(pollInterval) // a poll interval, not a synchronisation
	}
}

// tail returns the last lines of a server's log, for an error message.
func tail(name string) string {
	b, err := os.ReadFile(name)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return strings.Join(lines[max(0, len(lines)-15):], "\n")
}

// Postgres is a PostgreSQL server of this test run. Its methods are safe
// for concurrent use.
type Postgres struct {
	// Port is the server's TCP port on 127.0.0.1.
	Port int

	bin, dir string
	cred     *syscall.Credential // nil when not root
	mu       sync.Mutex
	proc     *process // nil while stopped
}

// PostgresUser is the database superuser of the server, trusted without a
// password.
const PostgresUser = "postgres"

// findPostgres returns the directory of the postgres and initdb binaries:
// that of postgres on PATH, else the newest /usr/lib/postgresql/N/bin (where
// Debian installs them, off PATH).
func findPostgres() (string, error) {
	if p, err := exec.LookPath("postgres"); err == nil {
		if r, err := filepath.EvalSymlinks(p); err == nil {
			p = r
		}
		return filepath.Dir(p), nil
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin/postgres")
	if len(dirs) == 0 {
		return "", fmt.Errorf("%w: postgres is neither on PATH nor in /usr/lib/postgresql/*/bin (Debian package postgresql)", ErrNotInstalled)
	}
	version := func(p string) int {
		n, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(p))))
		return n
	}
	slices.SortFunc(dirs, func(a, b string) int { return version(a) - version(b) })
	return filepath.Dir(dirs[len(dirs)-1]), nil
}

// StartPostgres creates a database cluster in a new temporary directory
// (initdb) and starts PostgreSQL on it, on a free port of 127.0.0.1, and
// returns once it accepts connections. Close stops it and removes the
// directory.
func StartPostgres() (*Postgres, error) {
	bin, err := findPostgres()
	if err != nil {
		return nil, err
	}
	p := &Postgres{bin: bin}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, fmt.Errorf("%w: running as root, and there is no postgres user to run initdb as: %v", ErrNotInstalled, err)
		}
		uid, _ := strconv.ParseUint(u.Uid, 10, 32)
		gid, _ := strconv.ParseUint(u.Gid, 10, 32)
		p.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	}
	// As root the cluster is the postgres user's, who must reach its
	// directory: not under $TMPDIR, which may be below /root (mode 0700).
	tmp := ""
	if p.cred != nil {
		tmp = "/tmp"
	}
	if p.dir, err = os.MkdirTemp(tmp, "rsguard-postgres-"); err != nil {
		return nil, err
	}
	if p.cred != nil {
		if err := os.Chown(p.dir, int(p.cred.Uid), int(p.cred.Gid)); err != nil {
			p.Close()
			return nil, err
		}
	}
	initdb := p.command("initdb", "-D", p.data(), "-U", PostgresUser, "--auth=trust",
		"--encoding=UTF8", "--locale=C", "--no-sync")
	if out, err := initdb.CombinedOutput(); err != nil {
		p.Close()
		return nil, fmt.Errorf("services: initdb: %v\n%s", err, out)
	}
	for attempt := 0; ; attempt++ {
		if p.Port, err = freePort(); err == nil {
			err = p.Start()
		}
		if err == nil || attempt == 2 {
			break
		}
	}
	if err != nil {
		p.Close()
		return nil, err
	}
	return p, nil
}

func (p *Postgres) data() string    { return filepath.Join(p.dir, "data") }
func (p *Postgres) logFile() string { return filepath.Join(p.dir, "postgres.log") }

// command returns the command running the PostgreSQL program name, as the
// postgres user when this process is root, in its own process group.
func (p *Postgres) command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(filepath.Join(p.bin, name), args...)
	cmd.Dir = p.dir
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: p.cred, Pdeathsig: syscall.SIGQUIT}
	return cmd
}

// URL returns the connection URL of database db, for a driver such as
// pgx's stdlib: user postgres, no password, no TLS, on 127.0.0.1.
func (p *Postgres) URL(db string) string {
	return fmt.Sprintf("postgres://%s@127.0.0.1:%d/%s?sslmode=disable", PostgresUser, p.Port, db)
}

// Start starts the server (again, after Stop) on its port and data, and
// returns once it accepts connections. Starting a running server does
// nothing.
func (p *Postgres) Start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.proc != nil {
		return nil
	}
	logf, err := os.OpenFile(p.logFile(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := p.command("postgres", "-D", p.data(), "-p", strconv.Itoa(p.Port),
		"-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories="+p.dir,
		"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
		"-c", "max_connections=200")
	cmd.Stdout, cmd.Stderr = logf, logf
	proc, err := start(cmd)
	if err != nil {
		return fmt.Errorf("services: postgres: %w", err)
	}
	if err := proc.waitReady("postgres", p.logFile(), p.ready); err != nil {
		return err
	}
	p.proc = proc
	return nil
}

// ready reports whether the server accepts connections, as pg_ctl does:
// the status line of postmaster.pid says "ready".
func (p *Postgres) ready() error {
	f, err := os.Open(filepath.Join(p.data(), "postmaster.pid"))
	if err != nil {
		return err
	}
	defer f.Close()
	s := bufio.NewScanner(io.LimitReader(f, 4096))
	for i := 0; s.Scan(); i++ {
		if i == 7 && strings.TrimSpace(s.Text()) == "ready" {
			return nil
		}
	}
	return errors.New("postmaster.pid does not say ready yet")
}

// Stop stops the server (a fast shutdown: sessions are ended, work in
// progress is rolled back), keeping its data, so that Start can start it
// again: an outage. Stopping a stopped server does nothing.
func (p *Postgres) Stop() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	err := p.proc.stop(syscall.SIGINT)
	p.proc = nil
	return err
}

// Close stops the server and removes its directory.
func (p *Postgres) Close() error {
	err := p.Stop()
	return errors.Join(err, os.RemoveAll(p.dir))
}

// Redis is a Redis server of this test run, without persistence. Its
// methods are safe for concurrent use.
type Redis struct {
	// Port is the server's TCP port on 127.0.0.1.
	Port int

	bin, dir string
	mu       sync.Mutex
	proc     *process
}

// StartRedis starts redis-server on a free port of 127.0.0.1, with no
// persistence (no RDB snapshot, no append-only file) and its working
// directory in a new temporary directory, and returns once it answers PING.
// Close stops it and removes the directory.
func StartRedis() (*Redis, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, fmt.Errorf("%w: redis-server is not on PATH (Debian package redis-server)", ErrNotInstalled)
	}
	r := &Redis{bin: bin}
	if r.dir, err = os.MkdirTemp("", "rsguard-redis-"); err != nil {
		return nil, err
	}
	for attempt := 0; ; attempt++ {
		if r.Port, err = freePort(); err == nil {
			err = r.Start()
		}
		if err == nil || attempt == 2 {
			break
		}
	}
	if err != nil {
		r.Close()
		return nil, err
	}
	return r, nil
}

// Addr returns the server's address, "127.0.0.1:port".
func (r *Redis) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(r.Port)) }

func (r *Redis) logFile() string { return filepath.Join(r.dir, "redis.log") }

// Start starts the server (again, after Stop) on its port, empty, and
// returns once it answers PING. Starting a running server does nothing.
func (r *Redis) Start() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.proc != nil {
		return nil
	}
	logf, err := os.OpenFile(r.logFile(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command(r.bin, "--port", strconv.Itoa(r.Port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", r.dir, "--daemonize", "no")
	cmd.Dir = r.dir
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	proc, err := start(cmd)
	if err != nil {
		return fmt.Errorf("services: redis-server: %w", err)
	}
	if err := proc.waitReady("redis-server", r.logFile(), func() error { return Ping(r.Addr(), time.Second) }); err != nil {
		return err
	}
	r.proc = proc
	return nil
}

// Stop stops the server; its data is lost (it has no persistence).
// Stopping a stopped server does nothing.
func (r *Redis) Stop() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	err := r.proc.stop(syscall.SIGTERM)
	r.proc = nil
	return err
}

// Close stops the server and removes its directory.
func (r *Redis) Close() error {
	err := r.Stop()
	return errors.Join(err, os.RemoveAll(r.dir))
}

// Ping sends the RESP command PING to the Redis server at addr and reports
// whether it answered +PONG, all within timeout.
func Ping(addr string, timeout time.Duration) error {
	c, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.SetDeadline(time.Now().Add(timeout)); err != nil {
		return err
	}
	if _, err := io.WriteString(c, "*1\r\n$4\r\nPING\r\n"); err != nil {
		return err
	}
	line, err := bufio.NewReader(io.LimitReader(c, 512)).ReadString('\n')
	if err != nil {
		return err
	}
	if line != "+PONG\r\n" {
		return fmt.Errorf("services: PING answered %q", strings.TrimSpace(line))
	}
	return nil
}
