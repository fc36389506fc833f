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
// clients can read the challenge; Cache-Control: no-store; and a short JSON
// body {"error":…,"error_description":…} (Content-Type application/json)
// taken from cs[0], as [WriteError] writes it: a challenge without an error
// code (a request without a credential, RFC 6750 §3.1) still gets an
// "error" member, chosen by status.
//
// status is typically 401 (no or invalid token), 403 (insufficient_scope)
// or 400 (invalid_request); 0 means 401. A 401 must carry at least one
// challenge (RFC 9110 §15.5.2): callers pass one.
func WriteChallenge(w http.ResponseWriter, status int, cs ...Challenge) {
	var code, desc string
	if len(cs) > 0 {
		code, desc = cs[0].Error, cs[0].ErrorDescription
	}
	WriteError(w, status, code, desc, cs...)
}

// WriteError writes an error response as [WriteChallenge] does, with the JSON
// body's members given apart from the challenges: code as "error" and
// description as "error_description", sanitised as in the header, where a
// challenge must not or need not say them (RFC 6750 §3.1 gives a request
// without a credential no error information in its challenge; a 503 has no
// RFC 6750 code), so that a client, or a person with curl, still reads what
// happened. The body never holds more than code and description: pass
// chosen text, never an internal error's message or a credential.
//
// An empty code is chosen by status: 400 (and any other 4xx not below)
// "invalid_request"; 401 "unauthorized", with the description
// "authentication required" when description is empty too; 403
// "access_denied"; 503 "temporarily_unavailable"; any other 5xx
// "server_error" (the last three are RFC 6749 §4.1.2.1 codes; "unauthorized"
// is none: RFC 6750 defines no code for a missing credential).
func WriteError(w http.ResponseWriter, status int, code, description string, cs ...Challenge) {
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

	if status == 0 {
		status = http.StatusUnauthorized
	}
	code, desc := sanitiseText(code), sanitiseText(description)
	if code == "" {
		code = statusCode(status)
		if desc == "" && status == http.StatusUnauthorized {
			desc = "authentication required"
		}
	}
	// Sanitised values are NQSCHAR: no '"', '\' or control characters, so
	// they are valid inside JSON strings as they are.
	var b strings.Builder
	b.Grow(len(`{"error":"","error_description":""}`) + len(code) + len(desc))
	b.WriteString(`{"error":"`)
	b.WriteString(code)
	b.WriteByte('"')
	if desc != "" {
		b.WriteString(`,"error_description":"`)
		b.WriteString(desc)
		b.WriteByte('"')
	}
	b.WriteByte('}')
	body := b.String()
	h.Set("Content-Length", strconv.Itoa(len(body)))

	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

// statusCode is the "error" of an error body without a code: see
// [WriteError].
func statusCode(status int) string {
	switch {
	case status == http.StatusUnauthorized:
		return "unauthorized"
	case status == http.StatusForbidden:
		return "access_denied"
	case status == http.StatusServiceUnavailable:
		return "temporarily_unavailable"
	case status >= 500:
		return "server_error"
	}
	return ErrorInvalidRequest
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
