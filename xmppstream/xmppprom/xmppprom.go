// Package xmppprom exports the counters of package xmppstream's upstreams
// to Prometheus: SASL outcomes of a negotiating Server, and the streams of
// a TCPUpstream to an XMPP server.
//
// It sits above package xmppstream and, with bosh/boshprom, is the only
// part of the library that imports the Prometheus client. The collectors
// read the upstreams' Stats at each scrape.
//
//	reg.MustRegister(xmppprom.NewServerCollector(srv))   // an xmppstream.Server
//	reg.MustRegister(xmppprom.NewTCPCollector(up))       // an xmppstream.TCPUpstream
//
// Labels take values from small fixed sets (mechanisms the server offers,
// BOSH and stream error conditions), never a JID or an address.
package xmppprom

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/httpbind/httpbind/xmppstream"
)

var (
	descSASLSuccess = prometheus.NewDesc("xmpp_sasl_successes_total",
		"SASL authentications that succeeded, by mechanism (RFC 6120 §6.4.6).", []string{"mechanism"}, nil)
	descSASLFailure = prometheus.NewDesc("xmpp_sasl_failures_total",
		"SASL failures, by mechanism (\"none\" before a mechanism was chosen; RFC 6120 §6.5).", []string{"mechanism"}, nil)
	descStreams = prometheus.NewDesc("xmpp_upstream_streams",
		"Streams open to the XMPP server now.", nil, nil)
	descConnectFailures = prometheus.NewDesc("xmpp_upstream_connect_failures_total",
		"Streams to the XMPP server that could not be opened, by the condition the client got.", []string{"condition"}, nil)
	descStreamErrors = prometheus.NewDesc("xmpp_upstream_stream_errors_total",
		"Streams the XMPP server ended with a stream error, by its condition (RFC 6120 §4.9.3).", []string{"condition"}, nil)
)

// ServerCollector is a prometheus.Collector for an xmppstream.Server.
type ServerCollector struct{ s *xmppstream.Server }

// NewServerCollector returns a collector of s's counts.
func NewServerCollector(s *xmppstream.Server) *ServerCollector { return &ServerCollector{s} }

// Describe sends the descriptions of the metrics.
func (c *ServerCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descSASLSuccess
	ch <- descSASLFailure
}

// Collect sends the metrics.
func (c *ServerCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.s.Stats()
	counters(ch, descSASLSuccess, st.SASLSuccesses)
	counters(ch, descSASLFailure, st.SASLFailures)
}

// TCPCollector is a prometheus.Collector for an xmppstream.TCPUpstream.
type TCPCollector struct{ u *xmppstream.TCPUpstream }

// NewTCPCollector returns a collector of u's counts.
func NewTCPCollector(u *xmppstream.TCPUpstream) *TCPCollector { return &TCPCollector{u} }

// Describe sends the descriptions of the metrics.
func (c *TCPCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descStreams
	ch <- descConnectFailures
	ch <- descStreamErrors
}

// Collect sends the metrics.
func (c *TCPCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.u.Stats()
	ch <- prometheus.MustNewConstMetric(descStreams, prometheus.GaugeValue, float64(st.Streams))
	counters(ch, descConnectFailures, st.ConnectFailures)
	counters(ch, descStreamErrors, st.StreamErrors)
}

func counters(ch chan<- prometheus.Metric, d *prometheus.Desc, by map[string]uint64) {
	for label, n := range by {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(n), label)
	}
}
