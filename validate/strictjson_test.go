package validate_test

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rsguard/rsguard/audit"
)

// TestAttackStrictJSON: tokens validly signed by a published key whose JSON
// different parsers read differently. A claim named "EXP", "AUD" or
// "ſcope" is not "exp", "aud" or "scope" (RFC 7519 §4: names are
// case-sensitive), but encoding/json matches struct fields case-insensitively
// and folds "ſ" (U+017F) to "s": an issuer that lets a client or user choose
// custom claim names (claim mappers, token-exchange actions) would then mint
// a token that this validator reads with another audience or more scopes than
// every other party sees. Names are matched exactly; duplicate members are
// refused rather than read as the last one, and so are invalid UTF-8 and
// abusive nesting.
func TestAttackStrictJSON(t *testing.T) {
	c := newCorpus(t)
	iss := c.is.URL
	base := `"iss":"` + iss + `","exp":9999999999,"sub":"alice"`
	var cases []attack
	payload := func(name, json string, want ...error) {
		cases = append(cases, attack{class: "strict-json", name: name, tok: rs256(c.ownRSA, c.ownHeader(), []byte(json)), want: want})
	}
	header := func(name, json string, want ...error) {
		cases = append(cases, attack{class: "strict-json", name: name, tok: rs256(c.ownRSA, []byte(json), c.ownClaims(nil)), want: want})
	}
	kid := `"kid":"` + c.noAlgKid + `"`
	// Claim names differing only in case, or by a character encoding/json
	// folds.
	payload("EXP instead of exp", `{"iss":"`+iss+`","aud":"`+hardResource+`","EXP":9999999999}`, audit.ReasonBadClaims, audit.ReasonMalformed)
	payload("Aud instead of aud", `{`+base+`,"Aud":"`+hardResource+`"}`, audit.ReasonBadClaims, audit.ReasonMalformed)
	payload("AUD beside aud", `{`+base+`,"aud":"https://other.example/api","AUD":"`+hardResource+`"}`, audit.ReasonBadAudience, audit.ReasonMalformed)
	payload("ISS beside iss", `{"iss":"https://evil.example","ISS":"`+iss+`","aud":"`+hardResource+`","exp":9999999999}`, audit.ReasonBadIssuer, audit.ReasonMalformed)
	// Duplicate members.
	payload("duplicate aud, ours last", `{`+base+`,"aud":"https://other.example/api","aud":"`+hardResource+`"}`, audit.ReasonMalformed, audit.ReasonBadClaims, audit.ReasonBadAudience)
	payload("duplicate exp", `{"iss":"`+iss+`","aud":"`+hardResource+`","exp":1,"exp":9999999999}`, audit.ReasonMalformed, audit.ReasonBadClaims, audit.ReasonExpired)
	payload("duplicate scope", `{`+base+`,"aud":"`+hardResource+`","scope":"read","scope":"admin"}`, audit.ReasonMalformed, audit.ReasonBadClaims)
	header("duplicate alg, none first", `{"alg":"none","alg":"RS256",`+kid+`}`, audit.ReasonMalformed, audit.ReasonBadAlgorithm)
	header("duplicate typ, dpop first", `{"alg":"RS256",`+kid+`,"typ":"dpop+jwt","typ":"at+jwt"}`, audit.ReasonMalformed, audit.ReasonBadTokenType)
	header("duplicate kid", `{"alg":"RS256","kid":"other",`+kid+`}`, audit.ReasonMalformed, audit.ReasonUnknownKey)
	// Header names differing in case.
	header("Alg instead of alg", `{"Alg":"RS256",`+kid+`}`, audit.ReasonMalformed, audit.ReasonBadAlgorithm)
	header("KID instead of kid", `{"alg":"RS256","KID":"`+c.noAlgKid+`"}`, audit.ReasonMalformed, audit.ReasonUnknownKey)
	// Invalid UTF-8, and nesting no issuer produces.
	payload("invalid UTF-8 in sub", "{\"iss\":\""+iss+"\",\"aud\":\""+hardResource+"\",\"exp\":9999999999,\"sub\":\"a\xffb\"}", audit.ReasonMalformed, audit.ReasonBadClaims)
	payload("claim nested 1000 deep", `{`+base+`,"aud":"`+hardResource+`","x":`+strings.Repeat("[", 1000)+strings.Repeat("]", 1000)+`}`, audit.ReasonMalformed, audit.ReasonBadClaims)

	// Custom claims (a tenant read with Claims.Get) must read the same to
	// every party: a member name given twice at any level, however escaped,
	// a lone surrogate (encoding/json reads "\ud800" and "\udbff" both as
	// U+FFFD) and a number encoding/json cannot decode (Claims.Get would
	// then find no claim at all) are refused.
	own := `{` + base + `,"aud":"` + hardResource + `",`
	payload("custom claim twice", own+`"tid":"tenant-a","tid":"tenant-b"}`, audit.ReasonBadClaims, audit.ReasonMalformed)
	payload("custom claim twice, escaped", own+`"tid":"tenant-a","\u0074id":"tenant-b"}`, audit.ReasonBadClaims, audit.ReasonMalformed)
	payload("nested member twice", own+`"act":{"sub":"a","sub":"b"}}`, audit.ReasonBadClaims, audit.ReasonMalformed)
	payload("member twice in an object in an array", own+`"x":[{"a":1},{"a":1,"a":2}]}`, audit.ReasonBadClaims, audit.ReasonMalformed)
	payload("lone high surrogate in sub", `{"iss":"`+iss+`","aud":"`+hardResource+`","exp":9999999999,"sub":"u\ud800"}`, audit.ReasonMalformed, audit.ReasonBadClaims)
	payload("other lone high surrogate in sub", `{"iss":"`+iss+`","aud":"`+hardResource+`","exp":9999999999,"sub":"u\udbff"}`, audit.ReasonMalformed, audit.ReasonBadClaims)
	payload("lone surrogate in a custom claim", own+`"tid":"\udc00"}`, audit.ReasonMalformed, audit.ReasonBadClaims)
	payload("UTF-8 encoded surrogate in sub", "{\"iss\":\""+iss+"\",\"aud\":\""+hardResource+"\",\"exp\":9999999999,\"sub\":\"u\xed\xa0\x80\"}", audit.ReasonMalformed, audit.ReasonBadClaims)
	payload("1e400 beside tid", own+`"x":1e400,"tid":"tenant-a"}`, audit.ReasonMalformed, audit.ReasonBadClaims)
	payload("-1e400 in a nested array", own+`"tid":"tenant-a","x":{"y":[-1e400]}}`, audit.ReasonMalformed, audit.ReasonBadClaims)
	header("header member twice", `{"alg":"RS256",`+kid+`,"x5t":"a","x5t":"b"}`, audit.ReasonMalformed)
	header("header lone surrogate", `{"alg":"RS256",`+kid+`,"x":"\ud800"}`, audit.ReasonMalformed)
	header("header 1e309", `{"alg":"RS256",`+kid+`,"x":1e309}`, audit.ReasonMalformed)

	c.run(t, cases)

	// Positive controls: each read as encoding/json reads it.
	for _, tc := range []struct {
		name, claims string
		sub, tid     string
	}{
		{"tid once", `"sub":"alice","tid":"tenant-a","TID":"tenant-b","x":{"tid":"tenant-c"}`, "alice", "tenant-a"},
		{"escaped tid", `"sub":"alice","\u0074id":"tenant-a","y":[{"tid":1},{"tid":2}]`, "alice", "tenant-a"},
		{"surrogate pairs", `"sub":"\uD83D\uDE00","tid":"\ud83d\ude00"`, "\U0001F600", "\U0001F600"},
		{"largest and underflowing numbers", `"sub":"alice","tid":"tenant-a","x":[1.7976931348623157e308,1e-400,-4.9e-325]`, "alice", "tenant-a"},
	} {
		t.Run("strict-json/accepted: "+tc.name, func(t *testing.T) {
			tok := rs256(c.ownRSA, c.ownHeader(), []byte(`{"iss":"`+iss+`","exp":9999999999,"aud":"`+hardResource+`",`+tc.claims+`}`))
			cl, err := c.v[""].Verify(context.Background(), tok)
			require.NoError(t, err)
			assert.Equal(t, tc.sub, cl.Subject)
			tid, ok := cl.Get("tid")
			assert.True(t, ok, "tid is missing")
			assert.Equal(t, tc.tid, tid)
		})
	}

	// Look-alike names of "scope" are other claims: accepted, granting
	// only what "scope" says.
	for _, extra := range []string{`"ſcope":"admin"`, `"SCOPE":"admin"`, `"Scope":"admin"`, `"scp":["admin"]`} {
		t.Run("strict-json/scope and "+extra, func(t *testing.T) {
			tok := rs256(c.ownRSA, c.ownHeader(), []byte(`{`+base+`,"aud":"`+hardResource+`","scope":"read",`+extra+`}`))
			cl, err := c.v[""].Verify(context.Background(), tok)
			require.NoError(t, err)
			assert.Equal(t, []string{"read"}, cl.Scopes)
			p, err := authenticate(c.v[""], tok)
			require.NoError(t, err)
			assert.Equal(t, []string{"read"}, p.Scopes)
		})
	}
}
