package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"time"
)

// childEnv, set to "1" in its environment, makes this program the server
// process of a run: loadgen starts itself again with it, so that the
// servers' CPU time is their own, apart from the clients'.
const childEnv = "RSGUARD_LOADGEN_SERVER"

// hello is what the server process prints on its stdout, one JSON line, once
// it serves.
type hello struct {
	URLs   map[string]string `json:"urls"`   // mode -> MCP endpoint
	Tokens []string          `json:"tokens"` // one per client
	CPU    string            `json:"cpu"`    // GET: the server process's CPU time so far, in ns
}

// childMain is the server process: it starts the servers and the issuer,
// mints a token per client, prints a hello and serves until its stdin
// closes (its parent has finished or died) or ctx ends. With -cpuprofile it
// profiles itself from the first request to /cpu?start=1 to its end.
func childMain(ctx context.Context, args []string, stdin io.Reader, stdout io.Writer) (err error) {
	fs := flag.NewFlagSet("loadgen server", flag.ContinueOnError)
	alg := fs.String("alg", "ES256", "")
	clients := fs.Int("clients", 1, "")
	cpuprofile := fs.String("cpuprofile", "", "")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	srv, err := startServers(ctx, *alg)
	if err != nil {
		return err
	}
	defer srv.close()

	h := hello{URLs: srv.urls}
	for i := range *clients {
		tok := srv.issuer.Token(map[string]any{"sub": "loadgen-" + strconv.Itoa(i), "scope": toolScope})
		if tok == "" {
			return errors.New("issuer: no token")
		}
		h.Tokens = append(h.Tokens, tok)
	}

	var profile *os.File
	if *cpuprofile != "" {
		if profile, err = os.Create(*cpuprofile); err != nil {
			return err
		}
		defer func() {
			pprof.StopCPUProfile()
			if cerr := profile.Close(); err == nil {
				err = cerr
			}
		}()
	}
	var (
		mu        sync.Mutex
		profiling bool
	)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	admin := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("start") == "1" && profile != nil {
			mu.Lock()
			var err error
			if !profiling {
				err = pprof.StartCPUProfile(profile)
				profiling = err == nil
			}
			mu.Unlock()
			if err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
		}
		cpu, _ := processCPU()
		_, _ = io.WriteString(w, strconv.FormatInt(int64(cpu), 10))
	})}
	go func() { _ = admin.Serve(ln) }()
	defer admin.Close()
	h.CPU = "http://" + ln.Addr().String() + "/cpu"

	if err := json.NewEncoder(stdout).Encode(h); err != nil {
		return err
	}
	done := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, stdin)
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
	}
	return nil
}

// serverProcess is the running server process, seen from the parent.
type serverProcess struct {
	hello
	cmd   *exec.Cmd
	stdin io.Closer
	hc    *http.Client
}

// startServerProcess starts this program again as the server process and
// reads its hello.
func startServerProcess(ctx context.Context, cfg Config) (*serverProcess, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	args := []string{"-alg", cfg.Alg, "-clients", strconv.Itoa(cfg.Clients)}
	if cfg.ServerProfile != "" {
		args = append(args, "-cpuprofile", cfg.ServerProfile)
	}
	cmd := exec.CommandContext(ctx, exe, args...)
	cmd.Env = append(os.Environ(), childEnv+"=1")
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &serverProcess{cmd: cmd, stdin: stdin, hc: &http.Client{Timeout: 10 * time.Second}}
	line, err := bufio.NewReader(stdout).ReadBytes('\n')
	if err == nil {
		err = json.Unmarshal(line, &p.hello)
	}
	if err == nil && (len(p.Tokens) != cfg.Clients || p.CPU == "") {
		err = errors.New("incomplete hello")
	}
	if err != nil {
		_ = p.stop()
		return nil, fmt.Errorf("server process: %w", err)
	}
	go func() { _, _ = io.Copy(io.Discard, stdout) }()
	return p, nil
}

// cpu returns the server process's CPU time so far; start also starts its
// CPU profile (with -cpuprofile).
func (p *serverProcess) cpu(ctx context.Context, start bool) (time.Duration, error) {
	u := p.CPU
	if start {
		u += "?start=1"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, err
	}
	resp, err := p.hc.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("server process: %s", strings.TrimSpace(string(b)))
	}
	ns, err := strconv.ParseInt(string(b), 10, 64)
	return time.Duration(ns), err
}

// stop ends the server process: it exits when its stdin closes.
func (p *serverProcess) stop() error {
	_ = p.stdin.Close()
	return p.cmd.Wait()
}
