package quickstart

import (
	"bytes"
	"fmt"
	"go/ast"
	"go/build"
	"go/format"
	"go/parser"
	"go/token"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rsguard/rsguard/validate/validatetest"
)

// The markers around the quick start in README.md, and what the test may
// change in it: the two URL literals, and nothing else.
const (
	readme      = "../../README.md"
	beginMarker = "<!-- quickstart -->"
	endMarker   = "<!-- /quickstart -->"
	maxLines    = 10
	issuerLit   = `"https://auth.example.com"`
	resourceLit = `"https://mcp.example.com/mcp"`
	handlerName = "handler" // the http.Handler the snippet defines last
)

// TestQuickstart builds the README's quick start, as it is written there
// but for its two URLs, into a program serving a real MCP server whose tools
// are the snippet's, and runs the conformance kit (metadata, challenges,
// sessions, per-tool step-up, attacks) against the running program.
func TestQuickstart(t *testing.T) {
	goTool := findGo(t)
	snippet := extract(t)
	tools := toolsOf(t, snippet)

	is := validatetest.NewIssuer(t, &validatetest.Options{PlainHTTP: true})
	ln, err := net.Listen("tcp", "127.0.0.1:0") // reserved before the build: the resource URL is known
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	resource := "http://" + ln.Addr().String() + "/mcp"

	wired := strings.Replace(snippet, issuerLit, strconv.Quote(is.URL), 1)
	wired = strings.Replace(wired, resourceLit, strconv.Quote(resource), 1)
	dir := t.TempDir()
	writeModule(t, dir, program(t, wired, tools))
	bin := filepath.Join(dir, "quickstart")
	if runtime.GOOS == "windows" {
		bin += ".exe"
	}
	build := exec.CommandContext(t.Context(), goTool, "build", "-o", bin, ".")
	build.Dir = dir
	build.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOTOOLCHAIN=local", "GOWORK=off")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the quick start: %v\n%s\n--- the snippet, as wired:\n%s", err, out, wired)
	}

	start(t, bin, ln)
	validatetest.Conformance(t, validatetest.ConformanceConfig{
		Issuer: is,
		URL:    resource,
		MCP:    true,
		Tools:  tools,
	})
}

// findGo returns the go command of the toolchain running the test, or
// skips the test if there is none.
func findGo(t *testing.T) string {
	t.Helper()
	exe := "go"
	if runtime.GOOS == "windows" {
		exe += ".exe"
	}
	if p := filepath.Join(build.Default.GOROOT, "bin", exe); build.Default.GOROOT != "" {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	p, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("no go command to build the quick start with: %v", err)
	}
	return p
}

// extract returns the Go code between the quickstart markers of README.md,
// after checking that it is one gofmt-formatted Go block of at most
// maxLines non-empty lines that states each URL once and defines handler.
func extract(t *testing.T) string {
	t.Helper()
	text, err := os.ReadFile(readme)
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(text), beginMarker+"\n")
	if !ok {
		t.Fatalf("%s has no %q line: the quick start must be marked", readme, beginMarker)
	}
	block, _, ok := strings.Cut(after, endMarker)
	if !ok {
		t.Fatalf("%s has no %q after %q", readme, endMarker, beginMarker)
	}
	code, ok := strings.CutPrefix(block, "```go\n")
	if ok {
		code, ok = strings.CutSuffix(code, "```\n")
	}
	if !ok {
		t.Fatalf("between the quickstart markers, want one ```go block and nothing else, got:\n%s", block)
	}
	formatted, err := format.Source([]byte(code))
	if err != nil {
		t.Fatalf("the quick start is not Go statements: %v\n%s", err, code)
	}
	if string(formatted) != code {
		t.Errorf("the quick start is not gofmt-formatted; gofmt makes it:\n%s", formatted)
	}
	var lines int
	for _, line := range strings.Split(string(formatted), "\n") {
		if strings.TrimSpace(line) != "" {
			lines++
		}
	}
	if lines > maxLines {
		t.Errorf("the quick start has %d non-empty lines after gofmt, want at most %d:\n%s", lines, maxLines, formatted)
	}
	for _, lit := range []string{issuerLit, resourceLit} {
		if n := strings.Count(code, lit); n != 1 {
			t.Errorf("the quick start states %s %d times, want once", lit, n)
		}
	}
	if !regexp.MustCompile(`(?m)^` + handlerName + ` :?= `).MatchString(code) {
		t.Errorf("the quick start must end by defining %s, the http.Handler to serve:\n%s", handlerName, code)
	}
	if t.Failed() {
		t.FailNow()
	}
	return code
}

// toolsOf returns the Tools of the snippet's mcpguard.Config: a
// map[string][]string literal of string literals.
func toolsOf(t *testing.T, snippet string) map[string][]string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), "quickstart.go", "package p\nfunc _() {\n"+snippet+"\n}\n", 0)
	if err != nil {
		t.Fatal(err)
	}
	var tools map[string][]string
	var bad string
	str := func(e ast.Expr) string {
		if lit, ok := e.(*ast.BasicLit); ok && lit.Kind == token.STRING {
			if s, err := strconv.Unquote(lit.Value); err == nil {
				return s
			}
		}
		bad = fmt.Sprintf("%T", e)
		return ""
	}
	ast.Inspect(f, func(n ast.Node) bool {
		kv, ok := n.(*ast.KeyValueExpr)
		if !ok {
			return true
		}
		if key, ok := kv.Key.(*ast.Ident); !ok || key.Name != "Tools" {
			return true
		}
		lit, ok := kv.Value.(*ast.CompositeLit)
		if !ok {
			bad = "Tools is not a map literal"
			return false
		}
		tools = map[string][]string{}
		for _, elt := range lit.Elts {
			e, ok := elt.(*ast.KeyValueExpr)
			if !ok {
				bad = "Tools has an element without a key"
				continue
			}
			name := str(e.Key)
			tools[name] = []string{}
			if need, ok := e.Value.(*ast.CompositeLit); ok {
				for _, s := range need.Elts {
					tools[name] = append(tools[name], str(s))
				}
			} else {
				bad = "a tool's scopes are not a literal"
			}
		}
		return false
	})
	if bad != "" || len(tools) == 0 {
		t.Fatalf("the quick start's Tools must be a map literal of string literals (%s):\n%s", bad, snippet)
	}
	return tools
}

// program is the Go program around the snippet: an MCP server with the
// snippet's tools, each of which checks its scopes again in code and
// answers with the caller's subject; the snippet, which defines handler;
// and the serving of handler on the listener the test reserved (file
// descriptor 3, or QUICKSTART_ADDR where descriptors cannot be inherited).
func program(t *testing.T, snippet string, tools map[string][]string) []byte {
	t.Helper()
	names := make([]string, 0, len(tools))
	for name := range tools {
		names = append(names, name)
	}
	sort.Strings(names)
	var table strings.Builder
	for _, name := range names {
		fmt.Fprintf(&table, "\t%q: %#v,\n", name, tools[name])
	}
	src := `package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/rsguard/rsguard/gosdk"
	"github.com/rsguard/rsguard/mcpguard"
	"github.com/rsguard/rsguard/scopes"
)

// tools are the snippet's Tools.
var tools = map[string][]string{
` + table.String() + `}

func main() {
	ctx := context.Background()
	server := mcp.NewServer(&mcp.Implementation{Name: "quickstart", Version: "0.0.0"}, nil)
	for name, need := range tools {
		mcp.AddTool(server, &mcp.Tool{Name: name}, func(ctx context.Context, req *mcp.CallToolRequest, _ struct{}) (*mcp.CallToolResult, any, error) {
			if err := scopes.Require(gosdk.Context(ctx, req), need...); err != nil {
				return nil, nil, err
			}
			p, ok := gosdk.Principal(req)
			if !ok {
				return nil, nil, errors.New("no caller")
			}
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: p.Subject}}}, nil, nil
		})
	}
	handler := quickstart(ctx, server)

	var ln net.Listener
	var err error
	if addr := os.Getenv("QUICKSTART_ADDR"); addr != "" {
		ln, err = net.Listen("tcp", addr)
	} else {
		ln, err = net.FileListener(os.NewFile(3, "listener"))
	}
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("listening on", ln.Addr())
	log.Fatal(http.Serve(ln, handler))
}

// quickstart is the README's quick start, its URLs replaced.
func quickstart(ctx context.Context, server *mcp.Server) http.Handler {
` + snippet + `	return ` + handlerName + `
}
`
	out, err := format.Source([]byte(src))
	if err != nil {
		t.Fatalf("the generated program does not parse: %v\n%s", err, src)
	}
	return out
}

// writeModule writes the program into dir as a module that requires what
// the examples module requires, at the same versions (so examples/go.sum
// covers it), with rsguard and gosdk replaced by this checkout.
func writeModule(t *testing.T, dir string, main []byte) {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	gomod, err := os.ReadFile("../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	gosum, err := os.ReadFile("../go.sum")
	if err != nil {
		t.Fatal(err)
	}
	var mod bytes.Buffer
	for _, line := range strings.SplitAfter(string(gomod), "\n") {
		switch {
		case strings.HasPrefix(line, "module "):
			line = "module quickstart\n"
		case strings.HasPrefix(line, "replace "):
			continue
		}
		mod.WriteString(line)
	}
	fmt.Fprintf(&mod, "\nreplace github.com/rsguard/rsguard => %s\n", strconv.Quote(root))
	fmt.Fprintf(&mod, "\nreplace github.com/rsguard/rsguard/gosdk => %s\n", strconv.Quote(filepath.Join(root, "gosdk")))
	for name, data := range map[string][]byte{"go.mod": mod.Bytes(), "go.sum": gosum, "main.go": main} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// start runs the program bin serving on ln until the test ends, and returns
// once it listens (its first line of output). The program's stderr is
// reported if it fails.
func start(t *testing.T, bin string, ln net.Listener) {
	t.Helper()
	cmd := exec.Command(bin)
	stderr := &syncBuffer{}
	ready := make(chan string, 1)
	cmd.Stdout, cmd.Stderr = &firstLine{ready: ready}, stderr
	if runtime.GOOS == "windows" { // no inherited descriptors: free the port for the program
		cmd.Env = append(os.Environ(), "QUICKSTART_ADDR="+ln.Addr().String())
		ln.Close()
	} else {
		f, err := ln.(*net.TCPListener).File()
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		cmd.ExtraFiles = []*os.File{f}
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		_ = cmd.Wait()
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})

	select {
	case line := <-ready:
		t.Logf("quick start: %s", line)
	case <-exited:
		t.Fatalf("the quick start exited before listening:\n%s", stderr)
	case <-time.After(30 * time.Second):
		t.Fatalf("the quick start did not listen within 30s:\n%s", stderr)
	}
}

// firstLine is a Writer that sends the first line written to it on ready,
// and discards the rest.
type firstLine struct {
	buf   []byte
	ready chan<- string
}

func (w *firstLine) Write(p []byte) (int, error) {
	if w.ready != nil {
		w.buf = append(w.buf, p...)
		if line, _, ok := bytes.Cut(w.buf, []byte("\n")); ok {
			w.ready <- string(line)
			w.ready, w.buf = nil, nil
		}
	}
	return len(p), nil
}

// syncBuffer is a bytes.Buffer safe for concurrent use.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
