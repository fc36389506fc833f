package serve

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestAccessLog(t *testing.T) {
	var log bytes.Buffer
	h := AccessLog(slog.New(slog.NewTextHandler(&log, nil)), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusTeapot)
		w.WriteHeader(http.StatusOK) // ignored: the first status counts
		http.NewResponseController(w).Flush()
	}))
	req := httptest.NewRequest(http.MethodGet, "/x?secret=1", nil)
	req.Header.Set("Authorization", "Bearer eyJsecret")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if !rec.Flushed {
		t.Error("Flush did not reach the ResponseWriter")
	}
	got := log.String()
	for _, want := range []string{"method=GET", "path=/x", "status=418", "duration="} {
		if !strings.Contains(got, want) {
			t.Errorf("log lacks %q: %s", want, got)
		}
	}
	if strings.Contains(got, "eyJ") || strings.Contains(got, "secret") {
		t.Errorf("log holds a credential: %s", got)
	}
}

func TestServe(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var log bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&log, nil))
	streaming := make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
		if r.URL.Path == "/stream" { // like an SSE stream: open until its context ends
			http.NewResponseController(w).Flush()
			close(streaming)
			<-r.Context().Done()
		}
	})
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, ln, h, logger) }()

	url := "http://" + ln.Addr().String()
	resp, err := http.Get(url + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "ok" {
		t.Fatalf("body = %q, want ok", body)
	}
	stream, err := http.Get(url + "/stream")
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Body.Close()
	<-streaming

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Serve = %v, want nil", err)
		}
	case <-time.After(ShutdownTimeout + 5*time.Second):
		t.Fatal("Serve did not return after cancellation")
	}
	if !strings.Contains(log.String(), "shutting down") {
		t.Errorf("log lacks the shutdown: %s", log.String())
	}
}
