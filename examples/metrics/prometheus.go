package main

import (
	"context"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rsguard/rsguard/audit"
)

// Prometheus implements audit.Metrics over the Prometheus client: a
// counter of decisions and a histogram of the time the deciding middleware
// took, both labelled by stage ("authenticate", "authorize"), outcome
// ("allow", "deny") and reason (audit.Reasons: "ok", "expired",
// "insufficient_scope", …). Every label comes from a small fixed set, so the
// number of series is bounded whatever clients send; no identity (subject,
// client, token id) is ever a label.
//
// Wire it with audit.Count as the OnDecision hook of rsguard.Config (the
// authenticate stage, whatever the credential), scopes.RouteConfig and
// scopes.MCPConfig (the authorize stage).
// With OpenTelemetry the same twenty lines hold a metric.Int64Counter and a
// metric.Float64Histogram, recorded with the three labels as attributes.
//
// A third counter, of authentications by credential kind ("jwt", "apikey",
// "introspection", …, "none") and outcome, fed by [Prometheus.Credentials],
// shows an API key to OAuth migration: the share of traffic still on keys
// (grafana-dashboard.json). Per client, see apikey.NewReportHandler: a
// client id is never a label.
type Prometheus struct {
	decisions   *prometheus.CounterVec
	latency     *prometheus.HistogramVec
	credentials *prometheus.CounterVec
}

// Metric names, as scraped.
const (
	decisionsMetric       = "rsguard_decisions_total"
	latencyMetric         = "rsguard_decision_duration_seconds"
	authenticationsMetric = "rsguard_authentications_total"
)

// credentialLabels are the values of the credential label; any other
// credential kind is counted as "other", so the series stay bounded.
var credentialLabels = []audit.Credential{audit.CredentialJWT, audit.CredentialAPIKey, audit.CredentialIntrospection}

// latencyBuckets span a cached-token check (microseconds) to a key fetch
// from a slow issuer (a second).
var latencyBuckets = []float64{10e-6, 50e-6, 100e-6, 250e-6, 500e-6, 1e-3, 5e-3, 25e-3, 100e-3, 1}

// NewPrometheus registers the decision metrics with reg and returns them.
// The allowed series start at zero, so that rate() and ratios work before
// the first request.
func NewPrometheus(reg prometheus.Registerer) (*Prometheus, error) {
	labels := []string{"stage", "outcome", "reason"}
	p := &Prometheus{
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: decisionsMetric,
			Help: "Authentication and authorization decisions by stage, outcome and reason.",
		}, labels),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    latencyMetric,
			Help:    "Time the deciding middleware spent on a request, by stage, outcome and reason.",
			Buckets: latencyBuckets,
		}, labels),
		credentials: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: authenticationsMetric,
			Help: "Authentication decisions by credential kind (none when no credential was presented) and outcome.",
		}, []string{"credential", "outcome"}),
	}
	for _, c := range []prometheus.Collector{p.decisions, p.latency, p.credentials} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	for _, stage := range []audit.Stage{audit.StageAuthenticate, audit.StageAuthorize} {
		p.decisions.WithLabelValues(string(stage), "allow", string(audit.ReasonOK))
	}
	for _, c := range credentialLabels {
		p.credentials.WithLabelValues(string(c), "allow")
	}
	return p, nil
}

// Credentials returns the OnDecision hook of a Guard that counts its
// authentications by credential kind and outcome.
func (p *Prometheus) Credentials() audit.Func {
	return func(_ context.Context, d audit.Decision) {
		if d.Stage != audit.StageAuthenticate {
			return
		}
		cred := "other"
		switch {
		case d.Credential == "":
			cred = "none"
		case slices.Contains(credentialLabels, d.Credential):
			cred = string(d.Credential)
		}
		outcome := "deny"
		if d.Allowed {
			outcome = "allow"
		}
		p.credentials.WithLabelValues(cred, outcome).Inc()
	}
}

// ObserveDecision implements audit.Metrics.
func (p *Prometheus) ObserveDecision(stage, outcome, reason string, latency time.Duration) {
	p.decisions.WithLabelValues(stage, outcome, reason).Inc()
	p.latency.WithLabelValues(stage, outcome, reason).Observe(latency.Seconds())
}

var _ audit.Metrics = (*Prometheus)(nil)
