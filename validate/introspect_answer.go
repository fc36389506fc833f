package validate

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/rsguard/rsguard"
	"github.com/rsguard/rsguard/internal/strictjson"
)

// The introspection answer (RFC 7662 §2.2): read strictly, then checked as
// strictly as a JWT's claims.

// errAnswer is the cause of an answer that is not a JSON object of the
// RFC 7662 §2.2 form: the endpoint's failure, not the client's.
var errAnswer = errors.New("the introspection answer is not a JSON object with a boolean \"active\"")

// introAnswer is an introspection answer as read, before it is checked.
type introAnswer struct {
	raw          []byte  // the JSON text: Claims.Get and Claims.Decode read it
	p            payload // the members a JWT's claims set also has, read by the JWT rules
	claimErr     error   // one of them had the wrong JSON type: p is incomplete
	active       bool
	tokenType    []byte
	tokenUse     []byte
	typ          []byte // "typ", a string (Keycloak: "Bearer", "Refresh", "Offline", "ID")
	hasTokenType bool
	hasTokenUse  bool
	typeErr      bool // "token_type" or "token_use" is neither a string nor null
}

// parseIntrospection reads an introspection answer. It must be one JSON
// object, read whole by the strict reader of internal/strictjson (no member
// name twice in any object, no lone surrogates, …), whose "active" is true or
// false; else the error (the endpoint answered garbage). The registered
// claims are read as decodePayload reads a JWT's, tenantClaim included; a
// wrong JSON type there is not an error but a.claimErr, a refusal of the
// token (bad_claims).
func parseIntrospection(raw []byte, tenantClaim string) (*introAnswer, error) {
	a := &introAnswer{raw: raw}
	if err := a.readMembers(); err != nil {
		return nil, err
	}
	a.p.tenantClaim = tenantClaim
	if err := decodePayload(raw, &a.p); err != nil {
		a.claimErr = err
	}
	return a, nil
}

// readMembers reads "active", "token_type" and "token_use", and checks the
// whole text.
func (a *introAnswer) readMembers() error {
	r := strictjson.NewReader(a.raw)
	if r.Peek() != '{' {
		return errAnswer
	}
	if err := r.Open(); err != nil {
		return err
	}
	hasActive := false
	for {
		name, more, err := r.Member()
		if err != nil {
			return err
		}
		if !more {
			break
		}
		switch string(name) {
		case "active":
			v, err := r.Raw()
			if err != nil {
				return err
			}
			switch string(v) {
			case "true":
				a.active = true
			case "false":
			default:
				return errAnswer
			}
			hasActive = true
		case "token_type":
			a.tokenType, a.hasTokenType, err = stringValue(&r)
			if errors.Is(err, errType) {
				a.typeErr, err = true, nil
			}
		case "token_use":
			a.tokenUse, a.hasTokenUse, err = stringValue(&r)
			if errors.Is(err, errType) {
				a.typeErr, err = true, nil
			}
		case "typ":
			// Not RFC 7662's; read only to refuse the types below (see
			// accessToken). Another JSON type is not a refusal.
			a.typ, _, err = stringValue(&r)
			if errors.Is(err, errType) {
				err = nil
			}
		default:
			err = r.Skip()
		}
		if err != nil {
			return err
		}
	}
	if !hasActive {
		return errAnswer
	}
	return nil
}

// checkAnswer checks an answer about raw from in's endpoint at now, and
// returns the verified claims or the refusal, and whether that outcome may
// be cached (every one but a token not valid yet, which soon may be).
//
// The answer must say "active": true; "iss" must be in's issuer; "aud" must
// contain this resource (or one of the issuer's Audiences), compared as a
// JWT's; "token_type" must be "Bearer" or "DPoP" (in any case), or, when
// absent, "token_use" must be "access_token" (and a "token_use" present must
// be that): oidc-provider omits token_type exactly for refresh tokens, and an
// answer that does not say it is about an access token is refused; a "typ"
// of "Refresh", "Offline" or "ID" (in any case) is refused whatever
// token_type says (Keycloak marks its refresh, offline and ID tokens so,
// with a token_type of "Bearer"); "cnf",
// when present, must be {"jkt": "…"} as for a JWT (see confirmation;
// Claims.KeyThumbprint: the token is DPoP-bound), and a "DPoP" token_type
// must come with it; "exp" present and
// not past, "nbf", "iat" and "auth_time" not in the future, with the leeway;
// a subject or a client. The claims are built from the answer as from a JWT
// payload (Scopes, ClientID, Principal, Tenant, …).
func (v *Validator) checkAnswer(ctx context.Context, in *introspector, a *introAnswer, raw string, now time.Time) (*Claims, *rsguard.Error, bool) {
	refuse := func(t rsguard.Error) (*Claims, *rsguard.Error, bool) { return nil, introRefusal(t), true }
	p := &a.p
	if string(p.jti) == raw {
		// An endpoint that gives an opaque token's value as its "jti":
		// never keep it (the claims, their debug log line). Not reached
		// when the answer came through withoutValue, which drops it.
		p.jti = nil
	}
	switch {
	case !a.active:
		return refuse(errInactive)
	case a.claimErr != nil:
		return refuse(errClaimTypes)
	case !a.accessToken():
		// First: a refresh token's answer (oidc-provider: no token_type, no
		// aud) is refused as what it is, whatever else it lacks.
		return refuse(errNotAccessToken)
	case p.seen&claimIss == 0 || string(p.iss) != in.issuer:
		return refuse(errIssuer)
	case len(p.aud) == 0:
		return refuse(errMissingAud)
	case !in.t.audienceMatches(p.aud):
		return refuse(errAudience)
	case p.seen&claimCnf != 0 && p.jkt == nil, p.jkt == nil && strings.EqualFold(string(a.tokenType), "DPoP"):
		return refuse(errSenderConstrained)
	case p.seen&claimExp == 0:
		return refuse(errMissingExp)
	case !now.Before(p.exp.t.Add(v.leeway)):
		return refuse(errExpired)
	case p.seen&claimNbf != 0 && now.Add(v.leeway).Before(p.nbf.t):
		return nil, introRefusal(errNotYetValid), false
	case p.seen&claimIat != 0 && now.Add(v.leeway).Before(p.iat.t):
		return nil, introRefusal(errIssuedInFuture), false
	case p.seen&claimAuthTime != 0 && now.Add(v.leeway).Before(p.authTime.t):
		return nil, introRefusal(errAuthInFuture), false
	case len(p.sub) == 0 && len(p.clientID) == 0 && len(p.azp) == 0:
		return refuse(errNoPrincipal)
	}
	c := v.claims(ctx, in.t, p, a.raw)
	c.introspected = true
	c.KeyThumbprint = string(p.jkt)
	if c.ID == raw {
		c.ID = "" // an endpoint that gives an opaque token's value as its "jti": never keep (or log) it
	}
	return c, nil, true
}

// accessToken applies the token_type rule of checkAnswer.
func (a *introAnswer) accessToken() bool {
	if a.typeErr || (a.hasTokenUse && string(a.tokenUse) != "access_token") {
		return false
	}
	for _, t := range []string{"Refresh", "Offline", "ID"} {
		if strings.EqualFold(string(a.typ), t) {
			return false
		}
	}
	if !a.hasTokenType {
		return a.hasTokenUse
	}
	t := string(a.tokenType)
	return strings.EqualFold(t, "Bearer") || strings.EqualFold(t, "DPoP")
}

// withoutValue returns answer, the JSON text of an introspection answer,
// without its top-level members whose value is the string tok: an endpoint
// that echoes the token (as "jti", say) must not put it in the claims that
// Claims.Get and Claims.Decode read, in the cache or in a log line. It
// returns answer itself when no member has that value, or when answer is not
// an object the strict reader reads whole (parseIntrospection then refuses
// it). The members kept are re-encoded as they were written, so the strict
// checks (duplicate names, value types) see the same text.
func withoutValue(answer []byte, tok string) []byte {
	if tok == "" || (!bytes.Contains(answer, []byte(tok)) && bytes.IndexByte(answer, '\\') < 0) {
		return answer // the common case: a token is a b64token, written unescaped if at all
	}
	type member struct{ name, value []byte }
	var kept []member
	found := false
	r := strictjson.NewReader(answer)
	if r.Peek() != '{' || r.Open() != nil {
		return answer
	}
	for {
		name, more, err := r.Member()
		if err != nil {
			return answer
		}
		if !more {
			break
		}
		val, err := r.Raw()
		if err != nil {
			return answer
		}
		if len(val) > 0 && val[0] == '"' {
			sr := strictjson.NewReader(val)
			if s, err := sr.String(); err == nil && string(s) == tok {
				found = true
				continue
			}
		}
		kept = append(kept, member{name, val})
	}
	if !found {
		return answer
	}
	var b bytes.Buffer
	b.WriteByte('{')
	for i, m := range kept {
		if i > 0 {
			b.WriteByte(',')
		}
		name, err := json.Marshal(string(m.name))
		if err != nil {
			return []byte("null") // not reached: a string always encodes; refused as garbage
		}
		b.Write(name)
		b.WriteByte(':')
		b.Write(m.value)
	}
	b.WriteByte('}')
	return b.Bytes()
}
