package rsmeta

import (
	"io"
	"net/http"
	"strconv"
	"strings"
)

// WriteChallenge writes an RFC 6750 §3 error response: one WWW-Authenticate
// field line per challenge (each [Challenge.String], so never malformed),
// replacing any already set; "WWW-Authenticate" added to
// Access-Control-Expose-Headers unless already listed, so browser-based
// clients can read the challenge; Cache-Control: no-store; and a JSON body
// {"error":…,"error_description":…} taken from cs[0], each member omitted
// when empty ("{}" when there is no challenge), sanitised as in the header.
//
// status is typically 401 (no or invalid token), 403 (insufficient_scope)
// or 400 (invalid_request); 0 means 401. A 401 must carry at least one
// challenge (RFC 9110 §15.5.2): callers pass one.
func WriteChallenge(w http.ResponseWriter, status int, cs ...Challenge) {
	h := w.Header()
	h.Del("WWW-Authenticate")
	for _, c := range cs {
		h.Add("WWW-Authenticate", c.String())
	}
	if !listsHeader(h.Values("Access-Control-Expose-Headers"), "WWW-Authenticate") {
		h.Add("Access-Control-Expose-Headers", "WWW-Authenticate")
	}
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Type", "application/json")

	var code, desc string
	if len(cs) > 0 {
		code, desc = sanitiseText(cs[0].Error), sanitiseText(cs[0].ErrorDescription)
	}
	// Sanitised values are NQSCHAR: no '"', '\' or control characters, so
	// they are valid inside JSON strings as they are.
	var b strings.Builder
	b.Grow(len(`{"error":"","error_description":""}`) + len(code) + len(desc))
	b.WriteByte('{')
	if code != "" {
		b.WriteString(`"error":"`)
		b.WriteString(code)
		b.WriteByte('"')
	}
	if desc != "" {
		if code != "" {
			b.WriteByte(',')
		}
		b.WriteString(`"error_description":"`)
		b.WriteString(desc)
		b.WriteByte('"')
	}
	b.WriteByte('}')
	body := b.String()
	h.Set("Content-Length", strconv.Itoa(len(body)))

	if status == 0 {
		status = http.StatusUnauthorized
	}
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

// listsHeader reports whether a comma-separated header list (such as
// Access-Control-Expose-Headers) already names name, case-insensitively.
func listsHeader(values []string, name string) bool {
	for _, v := range values {
		for _, item := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(item), name) {
				return true
			}
		}
	}
	return false
}
