package conformance

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// citation is what a message of a failing check names its specification
// by.
var citation = regexp.MustCompile(`RFC \d{4}|MCP (authorization|transport|security best practices|lifecycle|tools)|OpenID Connect Discovery|OAuth 2\.1 §|Fetch Standard`)

// TestMessagesCite: every failure a check reports (each Errorf of a
// Reporter in the engine's sources) cites the specification it applies —
// in its format string, or through the case's Spec (caseSpec) — so that
// every fix line says where the rule comes from.
func TestMessagesCite(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	n := 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(node ast.Node) bool {
			call, ok := node.(*ast.CallExpr)
			if !ok {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok || sel.Sel.Name != "Errorf" || len(call.Args) == 0 {
				return true
			}
			if id, ok := sel.X.(*ast.Ident); ok && id.Name == "fmt" {
				return true // an error value, not a report
			}
			n++
			pos := fset.Position(call.Pos())
			lit, ok := call.Args[0].(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				t.Errorf("%s: the format of a report is not a string literal", pos)
				return true
			}
			format, err := strconv.Unquote(lit.Value)
			if err != nil {
				t.Errorf("%s: %v", pos, err)
				return true
			}
			if citation.MatchString(format) {
				return true
			}
			for _, arg := range call.Args[1:] {
				if c, ok := arg.(*ast.CallExpr); ok {
					if s, ok := c.Fun.(*ast.SelectorExpr); ok && s.Sel.Name == "caseSpec" {
						return true
					}
				}
			}
			t.Errorf("%s: no citation in %q", pos, format)
			return true
		})
	}
	if n < 100 {
		t.Errorf("only %d reports found: the test no longer sees the engine's Errorf calls", n)
	}
	t.Logf("%d reports, each citing its specification", n)
}
