package apikey

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rsguard/rsguard"
	"github.com/rsguard/rsguard/audit"
)

func TestPolicyEvaluate(t *testing.T) {
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	dep := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	cut := time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC)
	early := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	clientDep := time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)
	p := Policy{
		Deprecated: dep,
		Cutoff:     cut,
		Clients: map[string]ClientPolicy{
			"moving":    {State: StateDeprecated},
			"told":      {State: StateDeprecated, Deprecated: clientDep},
			"done":      {State: StateBlocked},
			"early":     {Cutoff: early},
			"extension": {State: StateDeprecated, Cutoff: cut.AddDate(0, 3, 0)},
		},
	}
	tests := []struct {
		name    string
		policy  Policy
		rec     Record
		at      time.Time
		want    ClientPolicy
		wantErr error
	}{
		{"zero policy", Policy{}, Record{ClientID: "x"}, now, ClientPolicy{State: StateAllowed}, nil},
		{"default deprecated, no date", Policy{Default: StateDeprecated}, Record{ClientID: "x"}, now, ClientPolicy{State: StateDeprecated}, nil},
		{"unlisted client", p, Record{ClientID: "x"}, now, ClientPolicy{State: StateAllowed, Cutoff: cut}, nil},
		{"client deprecated", p, Record{ClientID: "moving"}, now, ClientPolicy{State: StateDeprecated, Deprecated: dep, Cutoff: cut}, nil},
		{"client deprecation date", p, Record{ClientID: "told"}, now, ClientPolicy{State: StateDeprecated, Deprecated: clientDep, Cutoff: cut}, nil},
		{"owner as client", p, Record{Owner: "moving"}, now, ClientPolicy{State: StateDeprecated, Deprecated: dep, Cutoff: cut}, nil},
		{"record state wins", p, Record{ClientID: "moving", State: StateAllowed}, now, ClientPolicy{State: StateAllowed, Cutoff: cut}, nil},
		{"record deprecated", p, Record{ClientID: "x", State: StateDeprecated}, now, ClientPolicy{State: StateDeprecated, Deprecated: dep, Cutoff: cut}, nil},
		{"client blocked", p, Record{ClientID: "done"}, now, ClientPolicy{State: StateBlocked, Cutoff: cut}, audit.ReasonAPIKeyBlocked},
		{"record blocked", p, Record{ClientID: "x", State: StateBlocked}, now, ClientPolicy{State: StateBlocked, Cutoff: cut}, audit.ReasonAPIKeyBlocked},
		{"client cutoff passed", p, Record{ClientID: "early"}, now, ClientPolicy{State: StateAllowed, Cutoff: early}, audit.ReasonAPIKeyRetired},
		{"global cutoff passed", p, Record{ClientID: "x"}, cut, ClientPolicy{State: StateAllowed, Cutoff: cut}, audit.ReasonAPIKeyRetired},
		{"cutoff passed beats allowed record", p, Record{ClientID: "x", State: StateAllowed}, cut.Add(time.Second), ClientPolicy{State: StateAllowed, Cutoff: cut}, audit.ReasonAPIKeyRetired},
		{"extension", p, Record{ClientID: "extension"}, cut.Add(time.Hour), ClientPolicy{State: StateDeprecated, Deprecated: dep, Cutoff: cut.AddDate(0, 3, 0)}, nil},
		{"just before cutoff", p, Record{ClientID: "x"}, cut.Add(-time.Nanosecond), ClientPolicy{State: StateAllowed, Cutoff: cut}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.policy.Evaluate(&tt.rec, tt.at)
			if tt.wantErr == nil {
				require.NoError(t, err)
			} else {
				require.ErrorIs(t, err, tt.wantErr)
			}
			assert.Equal(t, tt.want, got, "status")
		})
	}
}

func TestPolicyValidate(t *testing.T) {
	good := []Policy{
		{},
		{Default: StateDeprecated, Link: "https://docs.example.com/migrate-to-oauth#keys"},
		{Clients: map[string]ClientPolicy{"a": {State: StateBlocked}}, Link: "http://localhost:8080/docs"},
	}
	f := newFixture(t)
	a := mustNew(t, f.config())
	for i, p := range good {
		assert.NoError(t, p.validate(), "good[%d]", i)
		assert.NoError(t, a.SetPolicy(p), "good[%d]: SetPolicy", i)
	}
	bad := []Policy{
		{Default: "gone"},
		{Clients: map[string]ClientPolicy{"a": {State: "x"}}},
		{Link: "/relative"},
		{Link: "ftp://example.com/x"},
		{Link: "https://example.com/a>b"},
		{Link: "https://example.com/a b"},
		{Link: "https:///nohost"},
	}
	for i, p := range bad {
		assert.ErrorIs(t, p.validate(), rsguard.ErrInvalidConfig, "bad[%d]", i)
		assert.ErrorIs(t, a.SetPolicy(p), rsguard.ErrInvalidConfig, "bad[%d]: SetPolicy", i)
		cfg := f.config()
		cfg.Policy = p
		_, err := New(cfg)
		assert.ErrorIs(t, err, rsguard.ErrInvalidConfig, "bad[%d]: New", i)
	}
}

func TestMigrationHeaders(t *testing.T) {
	dep := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	cut := time.Date(2026, 9, 1, 0, 0, 0, 0, time.FixedZone("CEST", 2*3600))
	tests := []struct {
		name string
		st   ClientPolicy
		link string
		want http.Header
	}{
		{"allowed", ClientPolicy{State: StateAllowed, Cutoff: cut}, "https://d/x", http.Header{}},
		{"deprecated, no cutoff, no link", ClientPolicy{State: StateDeprecated, Deprecated: dep}, "", http.Header{
			"Deprecation":                   {"@1772323200"},
			"Access-Control-Expose-Headers": {"Deprecation"},
		}},
		{"deprecated, no date: no Deprecation", ClientPolicy{State: StateDeprecated}, "", http.Header{}},
		{"deprecated, no date, cutoff and link kept", ClientPolicy{State: StateDeprecated, Cutoff: cut}, "https://d/x", http.Header{
			"Sunset":                        {"Mon, 31 Aug 2026 22:00:00 GMT"},
			"Link":                          {`<https://d/x>; rel="deprecation"`, `<https://d/x>; rel="sunset"`},
			"Access-Control-Expose-Headers": {"Sunset, Link"},
		}},
		{"deprecated with cutoff and link", ClientPolicy{State: StateDeprecated, Deprecated: dep, Cutoff: cut}, "https://d/x", http.Header{
			"Deprecation":                   {"@1772323200"},
			"Sunset":                        {"Mon, 31 Aug 2026 22:00:00 GMT"},
			"Link":                          {`<https://d/x>; rel="deprecation"`, `<https://d/x>; rel="sunset"`},
			"Access-Control-Expose-Headers": {"Deprecation, Sunset, Link"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			tt.st.setHeaders(h, tt.link)
			require.Len(t, h, len(tt.want), "headers = %v, want %v", h, tt.want)
			for k, v := range tt.want {
				assert.Equal(t, v, h.Values(k), k)
			}
		})
	}
}

// TestDeprecationWithoutDate: RFC 9745 §2 makes the Deprecation header a
// date, when the resource was or will be deprecated. With no date
// configured there is none to send: no header, rather than the time of each
// response (a date that moves at every request tells a client nothing, and
// defeats caching of the answer). Sunset and Link still go out.
func TestDeprecationWithoutDate(t *testing.T) {
	f := newFixture(t)
	now := fixedNow
	cfg := f.config()
	cfg.Policy = Policy{Default: StateDeprecated, Cutoff: cutoff, Link: migrationDocs}
	cfg.Now = func() time.Time { return now }
	a := mustNew(t, cfg)
	for range 2 {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header.Set("X-API-Key", f.keys["valid"])
		p, err := a.Authenticate(r)
		require.NoError(t, err)
		assert.Empty(t, p.Header.Values("Deprecation"), "no date configured, no Deprecation header")
		assert.Equal(t, "Tue, 01 Sep 2026 00:00:00 GMT", p.Header.Get("Sunset"))
		assert.Len(t, p.Header.Values("Link"), 2)
		now = now.Add(time.Hour)
	}
}
