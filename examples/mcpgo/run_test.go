package main

import (
	"context"
	"errors"
	"flag"
	"io"
	"net"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rsguard/rsguard/examples/internal/devissuer"
	"github.com/rsguard/rsguard/validate/validatetest"
)

// startRun runs the program with args until the test ends, and returns its
// stdout once the banner is out, and its stderr.
func startRun(t *testing.T, args ...string) (stdout string, stderr *syncBuffer, stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out, errOut := &syncBuffer{}, &syncBuffer{}
	var runErr error
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		runErr = run(ctx, args, out, errOut)
	}()
	var once sync.Once
	var stopErr error
	stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case <-exited:
				stopErr = runErr
			case <-time.After(30 * time.Second):
				stopErr = errors.New("run did not return within 30s of cancellation")
			}
		})
		return stopErr
	}
	t.Cleanup(func() { stop() })

	// The banner is written at once, when the server is listening.
	banner, ok := out.waitFor("protected resource metadata:", 30*time.Second, exited)
	if !ok {
		select {
		case <-exited:
			t.Fatalf("run returned %v before serving; stderr:\n%s", runErr, errOut)
		default:
			t.Fatalf("no banner after 30s; stderr:\n%s", errOut)
		}
	}
	return banner, errOut, stop
}

// script returns the ready-to-paste command printed after scriptHeader.
func script(t *testing.T, stdout string) string {
	t.Helper()
	_, after, ok := strings.Cut(stdout, scriptHeader+"\n")
	if !ok {
		t.Fatalf("no %q in stdout:\n%s", scriptHeader, stdout)
	}
	s, _, _ := strings.Cut(after, "\n\n")
	return s + "\n"
}

// TestPrintedCommand runs the program as the README's first command does
// (no -issuer, so with the development issuer) and runs the command it prints
// with bash and curl, for real.
func TestPrintedCommand(t *testing.T) {
	for _, tool := range []string{"bash", "curl", "sed", "tr"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("the printed command needs %s, which is not installed: %v", tool, err)
		}
	}
	stdout, stderr, stop := startRun(t, "-addr", "127.0.0.1:0")
	cmdText := script(t, stdout)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "bash", "-c", cmdText).CombinedOutput()
	if err != nil {
		t.Fatalf("printed command failed: %v\n--- command:\n%s--- output:\n%s--- server log:\n%s", err, cmdText, out, stderr)
	}
	got := string(out)
	if !strings.Contains(got, `"result"`) || !strings.Contains(got, `"structuredContent":{"notes":[`) || strings.Contains(got, `"isError":true`) {
		t.Errorf("printed command output:\n%s\nwant a list_notes result", got)
	}
	if err := stop(); err != nil {
		t.Errorf("run after cancellation: %v", err)
	}
	// The log names requests, never credentials.
	if log := stderr.String(); strings.Contains(log, "eyJ") || strings.Contains(log, devissuer.ClientSecret) {
		t.Errorf("the log holds a token or a secret:\n%s", log)
	}
	for _, want := range []string{"status=200", "status=202", "shutting down"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, stderr)
		}
	}
}

// TestRunWithIssuer runs the program against an outside issuer (-issuer):
// no development issuer, no script, and a resource given with -resource.
func TestRunWithIssuer(t *testing.T) {
	iss := validatetest.NewIssuer(t, &validatetest.Options{PlainHTTP: true, Algorithms: []string{"ES256"}})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	resource := "http://localhost:" + addr[strings.LastIndex(addr, ":")+1:] + "/mcp"

	stdout, _, stop := startRun(t, "-addr", addr, "-issuer", iss.URL, "-resource", resource)
	if strings.Contains(stdout, scriptHeader) || !strings.Contains(stdout, iss.URL) || !strings.Contains(stdout, resource) {
		t.Errorf("banner:\n%s", stdout)
	}
	if iss.Requests(iss.JWKSURL) == 0 {
		t.Error("the issuer's keys were not fetched at start-up")
	}
	if err := stop(); err != nil {
		t.Error(err)
	}
}

// TestRunErrors checks that bad command lines and an unreachable issuer stop
// the program at start-up.
func TestRunErrors(t *testing.T) {
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadURL := "http://" + dead.Addr().String()
	dead.Close()

	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"help", []string{"-h"}, flag.ErrHelp.Error()},
		{"unknown flag", []string{"-port", "1"}, "flag provided but not defined"},
		{"extra argument", []string{"serve"}, "unexpected arguments"},
		{"every interface, no -resource", []string{"-addr", "0.0.0.0:0"}, "-resource"},
		{"non-loopback http resource", []string{"-addr", "127.0.0.1:0", "-resource", "http://example.com/mcp"}, "invalid resource"},
		{"unreachable issuer", []string{"-addr", "127.0.0.1:0", "-issuer", deadURL}, "issuer " + deadURL},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			err := run(ctx, tt.args, io.Discard, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("run(%q) = %v, want an error containing %q", tt.args, err, tt.wantErr)
			}
		})
	}
}

func TestDefaultResource(t *testing.T) {
	actual := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 41234}
	tests := []struct {
		flagAddr string
		want     string // "" means an error
	}{
		{"127.0.0.1:8080", "http://127.0.0.1:41234/mcp"},
		{"127.0.0.1:0", "http://127.0.0.1:41234/mcp"},
		{"localhost:8080", "http://localhost:41234/mcp"},
		{"[::1]:8080", "http://[::1]:41234/mcp"},
		{":8080", ""},
		{"0.0.0.0:8080", ""},
		{"[::]:8080", ""},
		{"192.0.2.1:8080", ""},
		{"no-port", ""},
	}
	for _, tt := range tests {
		got, err := defaultResource(tt.flagAddr, actual)
		if tt.want == "" && err == nil || tt.want != "" && (err != nil || got != tt.want) {
			t.Errorf("defaultResource(%q) = %q, %v; want %q", tt.flagAddr, got, err, tt.want)
		}
	}
}
