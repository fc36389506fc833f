package main

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rsguard/rsguard/apikey"
	"github.com/rsguard/rsguard/examples/internal/runtest"
	"github.com/rsguard/rsguard/examples/inventory/api"
	"github.com/rsguard/rsguard/validate/validatetest"
)

// command returns the line printed after header.
func command(t *testing.T, stdout, header string) string {
	t.Helper()
	_, after, ok := strings.Cut(stdout, header+"\n")
	if !ok {
		t.Fatalf("no %q in stdout:\n%s", header, stdout)
	}
	line, _, _ := strings.Cut(after, "\n")
	return line
}

// TestPrintedCommands starts the program as the README does and runs the two
// commands it prints: curl with the legacy key (which must show the
// deprecation headers), and the order service with go run.
func TestPrintedCommands(t *testing.T) {
	out, stderr, stop := runtest.Start(t, run, orderCommandHeader, "-addr", "127.0.0.1:0", "-admin", "127.0.0.1:0")

	t.Run("curl with the legacy key", func(t *testing.T) {
		if _, err := exec.LookPath("curl"); err != nil {
			t.Skip("curl is not installed")
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		got, err := exec.CommandContext(ctx, "sh", "-c", command(t, out, keyCommandHeader)).CombinedOutput()
		if err != nil {
			t.Fatalf("%v\n%s", err, got)
		}
		for _, want := range []string{"HTTP/1.1 200", "Deprecation: @", "Sunset: ", `rel="deprecation"`, `"sku":"BOLT-M6"`} {
			if !strings.Contains(string(got), want) {
				t.Errorf("output lacks %q:\n%s", want, got)
			}
		}
	})

	t.Run("the migration report, as CSV", func(t *testing.T) {
		if _, err := exec.LookPath("curl"); err != nil {
			t.Skip("curl is not installed")
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		got, err := exec.CommandContext(ctx, "sh", "-c", command(t, out, reportCommandHeader)).CombinedOutput()
		if err != nil {
			t.Fatalf("%v\n%s", err, got)
		}
		for _, want := range []string{"client,state,status,", "\n" + legacyClient + ",deprecated,breaks_at_cutoff,",
			"\n" + orderServiceID + ",allowed,on_oauth,", "\n" + blockedClient + ",blocked,cut_off,"} {
			if !strings.Contains(string(got), want) {
				t.Errorf("output lacks %q:\n%s", want, got)
			}
		}
	})

	t.Run("the order service", func(t *testing.T) {
		if testing.Short() {
			t.Skip("builds the order service with go run")
		}
		if _, err := exec.LookPath("go"); err != nil {
			t.Skip("go is not on PATH")
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "sh", "-c", command(t, out, orderCommandHeader))
		cmd.Dir = "../.." // the repository root, where the README's commands run
		got, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%v\n%s", err, got)
		}
		for _, want := range []string{"(discovered from the API's metadata)", "via jwt", "4 API calls, 1 token request(s)"} {
			if !strings.Contains(string(got), want) {
				t.Errorf("output lacks %q:\n%s", want, got)
			}
		}
	})

	if err := stop(); err != nil {
		t.Error(err)
	}
	if log := stderr.String(); strings.Contains(log, "eyJ") || strings.Contains(log, "inv_live_") || strings.Contains(log, orderServiceSecret) {
		t.Errorf("the log holds a credential:\n%s", log)
	}
}

func TestRunErrors(t *testing.T) {
	deadURL := runtest.ClosedURL(t)
	runtest.RunErrors(t, run, []runtest.ErrorCase{
		{Name: "extra argument", Args: []string{"serve"}, WantErr: "unexpected arguments"},
		{Name: "every interface, no -resource", Args: []string{"-addr", ":0"}, WantErr: "-resource"},
		{Name: "missing key file", Args: []string{"-addr", "127.0.0.1:0", "-admin", "", "-keys", "testdata/none.json"}, WantErr: "none.json"},
		{Name: "unreachable issuer", Args: []string{"-addr", "127.0.0.1:0", "-admin", "", "-issuer", deadURL}, WantErr: "issuer " + deadURL},
		{Name: "bad admin address", Args: []string{"-addr", "127.0.0.1:0", "-admin", "127.0.0.1:bad"}, WantErr: "-admin"},
	})
}

// TestRunWithIssuerAndKeys runs the program against an outside issuer, with
// keys from a file (hashes only), as a deployment would.
func TestRunWithIssuerAndKeys(t *testing.T) {
	iss := validatetest.NewIssuer(t, &validatetest.Options{PlainHTTP: true, Algorithms: []string{"ES256"}})
	key, rec, err := apikey.Generate(api.KeyPrefix, apikey.Record{ClientID: "nightly-report", Scopes: []string{api.ScopeRead}})
	if err != nil {
		t.Fatal(err)
	}
	recJSON, err := json.Marshal([]apikey.Record{rec})
	if err != nil {
		t.Fatal(err)
	}
	keysFile := filepath.Join(t.TempDir(), "keys.json")
	if err := os.WriteFile(keysFile, recJSON, 0o600); err != nil {
		t.Fatal(err)
	}

	const marker = "protected resource metadata: " // the banner is written at once
	out, _, stop := runtest.Start(t, run, marker, "-addr", "127.0.0.1:0", "-admin", "", "-issuer", iss.URL, "-keys", keysFile)
	_, after, _ := strings.Cut(out, marker)
	metadataURL, _, _ := strings.Cut(after, "\n")
	if strings.Contains(out, keyCommandHeader) || strings.Contains(out, key) {
		t.Errorf("banner with an outside issuer:\n%s", out)
	}
	items := strings.Replace(metadataURL, "/.well-known/oauth-protected-resource/api", "/api/items", 1)
	req, _ := http.NewRequest(http.MethodGet, items, nil)
	req.Header.Set("X-API-Key", key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Deprecation") != "" {
		t.Errorf("GET %s with the file's key: %d, Deprecation %q", items, resp.StatusCode, resp.Header.Get("Deprecation"))
	}
	if err := stop(); err != nil {
		t.Error(err)
	}
}
