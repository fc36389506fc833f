package rsguard

import (
	"slices"
	"strings"

	"github.com/rsguard/rsguard/internal/check"
)

// ParseScopes splits the string form of a scope grant — the RFC 9068 "scope"
// claim, a string "scp" claim — into the scope tokens it grants, by the one
// rule every rsguard credential applies:
//
//   - the string is split on single spaces (RFC 6749 §3.3: scope-token
//     *( SP scope-token )), and on nothing else: a tab or a newline is part
//     of a token, not a separator;
//   - a token outside the §3.3 character set (%x21 / %x23-5B / %x5D-7E: no
//     space, '"', '\', control or non-ASCII character), and the empty token
//     between two consecutive spaces or at either end, is never granted: it
//     is returned in dropped, and the others are granted;
//   - duplicates are granted once, in the order of their first occurrence.
//
// So "a  b" grants a and b and drops one empty token, and "a\tb" grants
// nothing. Callers log dropped at debug level; it is nil when nothing was
// dropped.
func ParseScopes(s string) (granted, dropped []string) {
	if s == "" {
		return nil, nil
	}
	granted = make([]string, 0, strings.Count(s, " ")+1)
	for {
		tok, rest, more := strings.Cut(s, " ")
		granted, dropped = addScope(granted, dropped, tok)
		if !more {
			return granted, dropped
		}
		s = rest
	}
}

// ParseScopeList applies the rule of [ParseScopes] to the array form of a scope grant
// (an "scp" array, an API key's scopes): each element is one token and is
// never split, so an element with a space in it is dropped, not split.
func ParseScopeList(list []string) (granted, dropped []string) {
	if len(list) == 0 {
		return nil, nil
	}
	granted = make([]string, 0, len(list))
	for _, tok := range list {
		granted, dropped = addScope(granted, dropped, tok)
	}
	return granted, dropped
}

func addScope(granted, dropped []string, tok string) ([]string, []string) {
	switch {
	case !check.IsScopeToken(tok):
		dropped = append(dropped, tok)
	case !slices.Contains(granted, tok):
		granted = append(granted, tok)
	}
	return granted, dropped
}
