package interop_test

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rsguard/rsguard/audit"
	"github.com/rsguard/rsguard/examples/internal/runtest"
	"github.com/rsguard/rsguard/rsmeta"
	"github.com/rsguard/rsguard/validate"
)

// dpopReport is the JSON line dpop-client.mjs prints (README.md).
type dpopReport struct {
	OK    bool   `json:"ok"`
	Error string `json:"error"`
	Key   struct {
		Alg string `json:"alg"`
		JKT string `json:"jkt"`
	} `json:"key"`
	OtherKey struct {
		Alg string `json:"alg"`
		JKT string `json:"jkt"`
	} `json:"other_key"`
	Token struct {
		TokenType  string            `json:"token_type"`
		Format     string            `json:"format"`
		Cnf        map[string]string `json:"cnf"`
		Scope      string            `json:"scope"`
		NonceRetry bool              `json:"nonce_retry"`
	} `json:"token"`
	Cases map[string]dpopCase `json:"cases"`
}

// dpopCase is one case of the report: the final answer (after a nonce
// retry, if there was one).
type dpopCase struct {
	Status          int    `json:"status"`
	WWWAuthenticate string `json:"www_authenticate"`
	Challenges      []struct {
		Scheme     string            `json:"scheme"`
		Parameters map[string]string `json:"parameters"`
	} `json:"challenges"` // oauth4webapi's own parse of WWW-Authenticate
	DPoPNonce  bool            `json:"dpop_nonce"`
	Body       json.RawMessage `json:"body"`
	Scheme     string          `json:"scheme"`
	ProofSent  bool            `json:"proof_sent"`
	NonceRetry *struct {
		Status          int    `json:"status"`
		WWWAuthenticate string `json:"www_authenticate"`
		DPoPNonce       bool   `json:"dpop_nonce"`
	} `json:"nonce_retry"`
}

// runDPoPClient runs dpop-client.mjs with args to completion and decodes its
// last stdout line.
func (e *nodeEnv) runDPoPClient(t *testing.T, args ...string) *dpopReport {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), clientTimeout+10*time.Second)
	defer cancel()
	cmd := runtest.Command(ctx, e.dir, e.node, append([]string{"dpop-client.mjs", "--timeout", "60000"}, args...)...)
	var stdout, stderr runtest.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	var r dpopReport
	if jerr := json.Unmarshal([]byte(lines[len(lines)-1]), &r); jerr != nil || err != nil || !r.OK {
		t.Fatalf("dpop-client.mjs %s: %v (report: %v)\n--- stdout:\n%s--- stderr:\n%s", strings.Join(args, " "), err, jerr, stdout.String(), tail(stderr.String()))
	}
	return &r
}

// dpopAlgs are the proof algorithms offered in the challenges by default.
var dpopAlgs = []string{"ES256", "EdDSA", "Ed25519", "RS256", "PS256"}

// TestDPoP proves rsguard's RFC 9449 resource-server side against
// oidc-provider (DPoP-bound access tokens, cnf.jkt) and oauth4webapi (the
// client and its proofs): a bound JWT is accepted with oauth4webapi's proof
// (keys ES256, Ed25519 sent as "Ed25519" and as "EdDSA", RS256, PS256) and
// refused without it (as Bearer), with a replayed proof, with a proof made
// for another URL or method, and with a proof by another key; in Mode
// DPoPRequired a bearer token gets only the DPoP challenge; with server
// nonces oauth4webapi retries once with the nonce; and a bound opaque
// token (cnf.jkt in the introspection answer) is accepted with its proof.
func TestDPoP(t *testing.T) {
	env := setupNode(t)
	rs := newRS(t)
	as := env.startAS(t, "--dpop", "--introspection", "--scopes", strings.Join(introspectionScopes, " "), "--opaque", rs.url("/opaque"))
	if as.DPoP == nil {
		t.Fatalf("as.mjs --dpop printed no dpop member")
	}
	basic := &validate.Introspection{ClientID: rsBasicClient, ClientSecret: rsBasicSecret}
	// One resource per proof algorithm, so that parallel runs' decisions
	// stay apart.
	proofAlgs := []string{"ES256", "Ed25519", "EdDSA", "RS256", "PS256"}
	for _, alg := range proofAlgs {
		rs.guard(t, "/allowed/"+alg, validate.Config{Issuer: as.Issuer, DPoP: validate.DPoPConfig{Mode: validate.DPoPAllowed}})
	}
	rs.guard(t, "/required", validate.Config{Issuer: as.Issuer, DPoP: validate.DPoPConfig{Mode: validate.DPoPRequired}})
	rs.guard(t, "/nonce", validate.Config{Issuer: as.Issuer, DPoP: validate.DPoPConfig{Mode: validate.DPoPAllowed, Nonce: true}})
	rs.guard(t, "/opaque", validate.Config{Issuer: as.Issuer, Introspection: basic, DPoP: validate.DPoPConfig{Mode: validate.DPoPAllowed}})
	rs.start()

	// run runs every case of dpop-client.mjs against path with the key
	// algorithm alg, checks what every scenario shares, and returns the report.
	run := func(t *testing.T, path, alg string, format string, credential audit.Credential) *dpopReport {
		t.Helper()
		r := env.runDPoPClient(t, "--issuer", as.Issuer, "--resource", rs.url(path), "--scope", "inventory:read", "--alg", alg)
		if r.Token.TokenType != "dpop" || r.Token.Format != format || r.Key.Alg != alg {
			t.Errorf("token %+v with key %+v, want a DPoP %s token", r.Token, r.Key, format)
		}
		if format == "jwt" && (len(r.Token.Cnf) != 1 || r.Token.Cnf["jkt"] != r.Key.JKT) {
			t.Errorf("JWT cnf %v, want exactly {jkt: %s}", r.Token.Cnf, r.Key.JKT)
		}
		for _, name := range []string{"dpop", "dpop_again"} {
			c := r.Cases[name]
			var a rsAnswer
			if c.Status != http.StatusOK || c.Scheme != "DPoP" || !c.ProofSent || json.Unmarshal(c.Body, &a) != nil {
				t.Errorf("%s: HTTP %d, scheme %s, body %s; want 200 to a DPoP request with a proof", name, c.Status, c.Scheme, c.Body)
				continue
			}
			want := rsAnswer{Method: http.MethodGet, Subject: "client:" + as.Issuer + "#" + ccClient, Credential: string(credential),
				ClientID: ccClient, Issuer: as.Issuer, Scopes: []string{"inventory:read"}, KeyThumbprint: r.Key.JKT}
			if !equalAnswer(a, want) {
				t.Errorf("%s: principal %+v, want %+v", name, a, want)
			}
			if got := rs.lastReason(path, name); got != audit.ReasonOK {
				t.Errorf("%s: decision %q, want ok", name, got)
			}
		}
		// A proof accepted once is refused the second time.
		wantDPoPRefusal(t, rs, path, r, "replay", rsmeta.ErrorInvalidDPoPProof, audit.ReasonDPoPReplay)
		wantDPoPRefusal(t, rs, path, r, "other_url", rsmeta.ErrorInvalidDPoPProof, audit.ReasonBadDPoPProof)
		wantDPoPRefusal(t, rs, path, r, "other_method", rsmeta.ErrorInvalidDPoPProof, audit.ReasonBadDPoPProof)
		// A valid proof by another key: the token is not bound to it
		// (RFC 9449 §7.1: invalid_token on the DPoP challenge).
		wantDPoPRefusal(t, rs, path, r, "other_key", rsmeta.ErrorInvalidToken, audit.ReasonSenderConstrained)
		return r
	}

	for _, alg := range proofAlgs {
		t.Run("allowed/"+alg, func(t *testing.T) {
			t.Parallel()
			path := "/allowed/" + alg
			r := run(t, path, alg, "jwt", audit.CredentialJWT)
			// The bound token as Bearer: refused on the Bearer challenge,
			// the DPoP challenge offered next to it.
			c := r.Cases["bearer"]
			cs := challenges(t, c.WWWAuthenticate)
			bearer, ok1 := challengeFor(cs, "Bearer")
			dpop, ok2 := challengeFor(cs, "DPoP")
			if c.Status != http.StatusUnauthorized || c.Scheme != "Bearer" || len(cs) != 2 || !ok1 || !ok2 || bearer.Error != rsmeta.ErrorInvalidToken || dpop.Error != "" {
				t.Errorf("bearer: HTTP %d, challenges %+v; want 401 with Bearer error=invalid_token and a DPoP challenge without error", c.Status, cs)
			}
			wantAlgs(t, dpop)
			wantSameParse(t, "bearer", c)
			if got := rs.lastReason(path, "bearer"); got != audit.ReasonSenderConstrained {
				t.Errorf("bearer: decision %q, want sender_constrained", got)
			}
		})
	}

	t.Run("allowed/unbound bearer", func(t *testing.T) {
		t.Parallel()
		tr := ccToken(t, as.TokenEndpoint, rs.url("/allowed/ES256"), "inventory:read")
		resp, body := rs.call(t, "/allowed/ES256", "unbound", tr.AccessToken)
		var a rsAnswer
		if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &a) != nil || a.KeyThumbprint != "" || a.Credential != string(audit.CredentialJWT) {
			t.Errorf("an unbound JWT as Bearer in Mode DPoPAllowed: HTTP %d %.300s, want 200", resp.StatusCode, body)
		}
	})

	t.Run("required", func(t *testing.T) {
		t.Parallel()
		r := run(t, "/required", "ES256", "jwt", audit.CredentialJWT)
		c := r.Cases["bearer"]
		cs := challenges(t, c.WWWAuthenticate)
		if c.Status != http.StatusUnauthorized || len(cs) != 1 || !strings.EqualFold(cs[0].Scheme, "DPoP") {
			t.Fatalf("bearer: HTTP %d, challenges %+v; want 401 with the DPoP challenge only", c.Status, cs)
		}
		wantAlgs(t, cs[0])
		wantSameParse(t, "bearer", c)
		if got := rs.lastReason("/required", "bearer"); got != audit.ReasonDPoPRequired {
			t.Errorf("bearer: decision %q, want dpop_required", got)
		}
		// An unbound token as Bearer: refused the same way.
		tr := ccToken(t, as.TokenEndpoint, rs.url("/required"), "inventory:read")
		resp, body := rs.call(t, "/required", "unbound", tr.AccessToken)
		vals := resp.Header.Values("WWW-Authenticate")
		if cs := challenges(t, vals...); resp.StatusCode != http.StatusUnauthorized || len(cs) != 1 || !strings.EqualFold(cs[0].Scheme, "DPoP") {
			t.Errorf("an unbound token in Mode DPoPRequired: HTTP %d %.200s, challenges %q; want 401 with the DPoP challenge only", resp.StatusCode, body, vals)
		}
	})

	t.Run("nonce", func(t *testing.T) {
		t.Parallel()
		r := run(t, "/nonce", "ES256", "jwt", audit.CredentialJWT)
		// The first proof, without a nonce, gets use_dpop_nonce and a
		// DPoP-Nonce; oauth4webapi retries once with it.
		for _, name := range []string{"dpop", "other_key"} {
			c := r.Cases[name]
			if c.NonceRetry == nil {
				t.Errorf("%s: no use_dpop_nonce retry; want one (the first proof of each key has no nonce)", name)
				continue
			}
			cs := challenges(t, c.NonceRetry.WWWAuthenticate)
			dpop, ok := challengeFor(cs, "DPoP")
			if c.NonceRetry.Status != http.StatusUnauthorized || !ok || dpop.Error != rsmeta.ErrorUseDPoPNonce || !c.NonceRetry.DPoPNonce {
				t.Errorf("%s: first answer HTTP %d %q (DPoP-Nonce %t); want 401 DPoP error=use_dpop_nonce with a DPoP-Nonce header", name, c.NonceRetry.Status, c.NonceRetry.WWWAuthenticate, c.NonceRetry.DPoPNonce)
			}
		}
		if ds := rs.decisionsOf("/nonce", "dpop"); len(ds) != 2 || ds[0].Reason != audit.ReasonUseDPoPNonce || ds[1].Reason != audit.ReasonOK {
			t.Errorf("decisions of the first request: %+v, want use_dpop_nonce then ok", ds)
		}
	})

	t.Run("opaque", func(t *testing.T) {
		t.Parallel()
		r := run(t, "/opaque", "ES256", "opaque", audit.CredentialIntrospection)
		c := r.Cases["bearer"]
		cs := challenges(t, c.WWWAuthenticate)
		if bearer, ok := challengeFor(cs, "Bearer"); c.Status != http.StatusUnauthorized || !ok || bearer.Error != rsmeta.ErrorInvalidToken {
			t.Errorf("bearer: HTTP %d, challenges %+v; want 401 Bearer error=invalid_token", c.Status, cs)
		}
		if got := rs.lastReason("/opaque", "bearer"); got != audit.ReasonSenderConstrained {
			t.Errorf("bearer: decision %q, want sender_constrained", got)
		}
	})
}

// wantDPoPRefusal checks case name of r: 401 with the error on the DPoP
// challenge, and the decision's reason.
func wantDPoPRefusal(t *testing.T, rs *rsServer, path string, r *dpopReport, name, code string, reason audit.Reason) {
	t.Helper()
	c, ok := r.Cases[name]
	if !ok {
		t.Errorf("%s: not in the report", name)
		return
	}
	cs := challenges(t, c.WWWAuthenticate)
	dpop, ok := challengeFor(cs, "DPoP")
	if c.Status != http.StatusUnauthorized || c.Scheme != "DPoP" || !ok || dpop.Error != code {
		t.Errorf("%s: HTTP %d to a %s request, challenges %+v; want 401 with DPoP error=%s", name, c.Status, c.Scheme, cs, code)
	}
	if bearer, ok := challengeFor(cs, "Bearer"); ok && bearer.Error != "" {
		t.Errorf("%s: the Bearer challenge carries error=%s; the error belongs on the DPoP challenge", name, bearer.Error)
	}
	wantAlgs(t, dpop)
	wantSameParse(t, name, c)
	if got := rs.lastReason(path, name); got != reason {
		t.Errorf("%s: decision %q, want %q", name, got, reason)
	}
}

// wantAlgs checks the DPoP challenge's algs auth-param (RFC 9449 §7.1).
func wantAlgs(t *testing.T, dpop rsmeta.Challenge) {
	t.Helper()
	algs, ok := param(dpop, "algs")
	if !ok || !sameSet(strings.Fields(algs), dpopAlgs) {
		t.Errorf("DPoP challenge %+v: algs %q, want %q", dpop, algs, dpopAlgs)
	}
}

// wantSameParse checks that oauth4webapi read the challenges as we do: the
// same schemes, in order, and the same error.
func wantSameParse(t *testing.T, name string, c dpopCase) {
	t.Helper()
	ours := challenges(t, c.WWWAuthenticate)
	var theirs []string
	for _, ch := range c.Challenges {
		theirs = append(theirs, ch.Scheme+" "+ch.Parameters["error"])
	}
	var want []string
	for _, ch := range ours {
		want = append(want, strings.ToLower(ch.Scheme)+" "+ch.Error)
	}
	if !slices.Equal(theirs, want) {
		t.Errorf("%s: oauth4webapi parsed %q as %q, rsmeta as %q", name, c.WWWAuthenticate, theirs, want)
	}
}
