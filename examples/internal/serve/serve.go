// Package serve is what the example servers share to run as commands over
// HTTP: Main, which runs a program until SIGINT or SIGTERM; ParseArgs, which
// rejects arguments after the flags; Listen and DefaultURL, the listener and
// the URL a server on -addr is reached at; Serve, which serves until its
// context ends and then shuts down gracefully; and AccessLog, a middleware
// that logs one line per request.
package serve

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// Listen listens on TCP address addr (-addr) and returns the listener and
// resource (-resource) or, if resource is empty, defaultURL(addr, the
// address actually bound). The listener is closed if defaultURL fails.
func Listen(addr, resource string, defaultURL func(flagAddr string, actual net.Addr) (string, error)) (net.Listener, string, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, "", err
	}
	if resource == "" {
		if resource, err = defaultURL(addr, ln.Addr()); err != nil {
			ln.Close()
			return nil, "", err
		}
	}
	return ln, resource, nil
}

// RunFunc is a program's run: it parses args, serves until ctx ends and
// returns, writing its banner to stdout and its log to stderr.
type RunFunc func(ctx context.Context, args []string, stdout, stderr io.Writer) error

// ShutdownTimeout is how long Serve waits for open requests at shutdown.
const ShutdownTimeout = 5 * time.Second

// Serve serves h on ln until ctx ends, then shuts down. ctx is the
// requests' base context too, so its end also ends open requests that
// watch their context (SSE streams); the rest get ShutdownTimeout. The
// server's own errors go to logger at warning level.
func Serve(ctx context.Context, ln net.Listener, h http.Handler, logger *slog.Logger) error {
	hs := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return ctx },
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- hs.Serve(ln) }()

	select {
	case err := <-serveErr:
		return err
	case <-ctx.Done():
	}
	logger.Info("shutting down")
	shutdownCtx, done := context.WithTimeout(context.WithoutCancel(ctx), ShutdownTimeout)
	defer done()
	if err := hs.Shutdown(shutdownCtx); err != nil {
		hs.Close()
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

// DefaultURL is http://<host><path>: the host as given in flagAddr (so
// "localhost:8080" gives http://localhost:…, the URL clients use) and the
// port the server actually listens on, actual (so port 0 works). An
// unspecified host (":8080", "0.0.0.0:8080") names no URL clients could use:
// then the error asks for -resource, the URL clients use to reach what.
func DefaultURL(flagAddr string, actual net.Addr, path, what string) (string, error) {
	host, _, err := net.SplitHostPort(flagAddr)
	if err != nil {
		return "", err
	}
	_, port, err := net.SplitHostPort(actual.String())
	if err != nil {
		return "", err
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		return "", fmt.Errorf("-addr %s listens on every interface: pass -resource with the URL clients use to reach %s", flagAddr, what)
	}
	return "http://" + net.JoinHostPort(host, port) + path, nil
}
