// Package metrics holds the Prometheus collectors every role reports to. One
// Metrics is built per process (or per test) and handed to each component.
package metrics

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the process's collectors.
type Metrics struct {
	Registry *prometheus.Registry

	HitsPublished  *prometheus.CounterVec // source, rule
	HitsConsumed   *prometheus.CounterVec // outcome: revoked, sighting, inactive, publishable, unknown, invalid
	Revocations    *prometheus.CounterVec // source
	DeadLetters    prometheus.Counter
	ConsumerLag    prometheus.Gauge
	NoticesSent    *prometheus.CounterVec // channel
	NoticesFailed  *prometheus.CounterVec // channel
	BytesScanned   *prometheus.CounterVec // source
	SourcePolls    *prometheus.CounterVec // source, result: ok, error, rate_limited, forbidden
	SourceItems    *prometheus.CounterVec // source
	APIRequests    *prometheus.CounterVec // code
	RevokeLatency  prometheus.Histogram   // hit found_at → revoked, seconds
	NoticeAttempts prometheus.Histogram
}

// New registers every collector on a fresh registry (plus Go and process
// collectors) so tests can build as many as they like.
func New() *Metrics {
	r := prometheus.NewRegistry()
	r.MustRegister(prometheus.NewGoCollector(), prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}))
	cv := func(name, help string, labels ...string) *prometheus.CounterVec {
		c := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "leakguard", Name: name, Help: help}, labels)
		r.MustRegister(c)
		return c
	}
	m := &Metrics{Registry: r}
	m.HitsPublished = cv("hits_published_total", "Hits published to the bus.", "source", "rule")
	m.HitsConsumed = cv("hits_consumed_total", "Hits handled by the revoker, by outcome.", "outcome")
	m.Revocations = cv("revocations_total", "Keys revoked for exposure.", "source")
	m.NoticesSent = cv("notices_sent_total", "Leak notices delivered.", "channel")
	m.NoticesFailed = cv("notices_failed_total", "Leak notice delivery attempts that failed.", "channel")
	m.BytesScanned = cv("bytes_scanned_total", "Bytes scanned by sources.", "source")
	m.SourcePolls = cv("source_polls_total", "Source polls by result.", "source", "result")
	m.SourceItems = cv("source_items_total", "Items (events, packages, tags, pastes) examined.", "source")
	m.APIRequests = cv("api_requests_total", "Key API requests by status code.", "code")
	m.DeadLetters = prometheus.NewCounter(prometheus.CounterOpts{Namespace: "leakguard", Name: "dead_letters_total", Help: "Hits given up on after the last redelivery."})
	m.ConsumerLag = prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "leakguard", Name: "consumer_lag", Help: "Hits on the bus not yet handled by the revokers."})
	m.RevokeLatency = prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: "leakguard", Name: "revoke_latency_seconds", Help: "From a hit being found to its key being revoked.", Buckets: prometheus.ExponentialBuckets(0.001, 2, 16)})
	m.NoticeAttempts = prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: "leakguard", Name: "notice_attempts", Help: "Attempts a delivered notice took.", Buckets: []float64{1, 2, 3, 5, 8, 13, 21}})
	r.MustRegister(m.DeadLetters, m.ConsumerLag, m.RevokeLatency, m.NoticeAttempts)
	return m
}
