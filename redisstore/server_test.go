package redisstore_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// This file starts real redis-server processes for the tests, as
// examples/internal/services does for the examples module (which this
// module cannot import): Debian's redis-server (.ci/services installs it),
// on a free loopback port, in a temporary directory, without persistence.
// A machine without redis-server skips the tests with a message, unless
// CI=true, where they fail.

// errNotInstalled is wrapped by the start error when redis-server is not
// on PATH.
var errNotInstalled = errors.New("redis-server is not on PATH (Debian package redis-server; .ci/services installs it)")

const (
	startTimeout = 30 * time.Second
	stopTimeout  = 10 * time.Second
)

// shared is the server most tests use, started once in TestMain; each test
// keeps to keys of its own prefix.
var (
	shared    *server
	sharedErr error
	prefixSeq atomic.Int64
)

func TestMain(m *testing.M) {
	// go-redis logs each failed dial through its own package logger; the
	// stores log outages themselves, once each (see the package doc).
	redis.SetLogger(quiet{})
	shared, sharedErr = startServer()
	code := m.Run()
	if shared != nil {
		_ = shared.close()
	}
	os.Exit(code)
}

// quiet is a go-redis logger that logs nothing.
type quiet struct{}

func (quiet) Printf(context.Context, string, ...any) {}

// requireRedis skips tb (fails it with CI=true) when err, a start error,
// says redis-server is missing; fails it on any other error.
func requireRedis(tb testing.TB, err error) {
	tb.Helper()
	switch {
	case err == nil:
	case errors.Is(err, errNotInstalled) && os.Getenv("CI") != "true":
		tb.Skipf("%v: skipped (with CI=true this test fails)", err)
	default:
		tb.Fatal(err)
	}
}

// sharedServer returns the shared server and a key prefix of this test.
func sharedServer(tb testing.TB) (*server, string) {
	tb.Helper()
	requireRedis(tb, sharedErr)
	return shared, fmt.Sprintf("t%d:", prefixSeq.Add(1))
}

// ownServer starts a server for tb alone (for the tests that stop, pause
// or restart it), closed when tb ends.
func ownServer(tb testing.TB) *server {
	tb.Helper()
	s, err := startServer()
	requireRedis(tb, err)
	tb.Cleanup(func() { _ = s.close() })
	return s
}

// server is a redis-server process of this test binary.
type server struct {
	port     int
	bin, dir string
	mu       sync.Mutex
	cmd      *exec.Cmd
	exited   chan struct{}
}

func startServer() (*server, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, errNotInstalled
	}
	s := &server{bin: bin}
	if s.dir, err = os.MkdirTemp("", "redisstore-test-"); err != nil {
		return nil, err
	}
	for attempt := 0; ; attempt++ {
		var l net.Listener
		if l, err = net.Listen("tcp", "127.0.0.1:0"); err == nil {
			s.port = l.Addr().(*net.TCPAddr).Port
			l.Close()
			err = s.start()
		}
		if err == nil || attempt == 2 {
			break
		}
	}
	if err != nil {
		_ = s.close()
		return nil, err
	}
	return s, nil
}

func (s *server) addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }

// start starts the server on its port, empty, and returns once it answers
// PING; a running server is left alone.
func (s *server) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return nil
	}
	logf, err := os.OpenFile(filepath.Join(s.dir, "redis.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command(s.bin, "--port", strconv.Itoa(s.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", s.dir, "--daemonize", "no")
	cmd.Dir, cmd.Stdout, cmd.Stderr = s.dir, logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	deadline := time.Now().Add(startTimeout)
	for {
		err := ping(s.addr(), time.Second)
		if err == nil {
			break
		}
		select {
		case <-exited:
			b, _ := os.ReadFile(filepath.Join(s.dir, "redis.log"))
			return fmt.Errorf("redis-server exited before answering PING: %s", b)
		default:
		}
		if time.Now().After(deadline) {
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
			return fmt.Errorf("redis-server not ready within %v: %v", startTimeout, err)
		}
		time.Sleep(10 * time.Millisecond) // a poll interval, not a synchronisation
	}
	s.cmd, s.exited = cmd, exited
	return nil
}

// stop stops the server (SIGTERM, then SIGKILL after stopTimeout); its
// data is lost.
func (s *server) stop() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return nil
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	var err error
	select {
	case <-s.exited:
	case <-time.After(stopTimeout):
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		<-s.exited
		err = fmt.Errorf("redis-server did not stop within %v: killed", stopTimeout)
	}
	s.cmd = nil
	return err
}

func (s *server) close() error {
	err := s.stop()
	return errors.Join(err, os.RemoveAll(s.dir))
}

// client returns a go-redis client of the server, as the stores want it,
// closed when tb ends.
func (s *server) client(tb testing.TB) *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: s.addr(), ContextTimeoutEnabled: true})
	tb.Cleanup(func() { _ = c.Close() })
	return c
}

// pause makes the server answer no client for d (CLIENT PAUSE … ALL): a
// slow Redis.
func (s *server) pause(tb testing.TB, d time.Duration) {
	tb.Helper()
	c := redis.NewClient(&redis.Options{Addr: s.addr()})
	defer c.Close()
	if err := c.Do(context.Background(), "CLIENT", "PAUSE", d.Milliseconds(), "ALL").Err(); err != nil {
		tb.Fatal(err)
	}
}

// ping sends PING to addr and checks for +PONG, within timeout.
func ping(addr string, timeout time.Duration) error {
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
		return fmt.Errorf("PING answered %q", strings.TrimSpace(line))
	}
	return nil
}
