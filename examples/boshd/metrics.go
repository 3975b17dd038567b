package main

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/httpbind/httpbind/bosh"
	"github.com/httpbind/httpbind/bosh/boshprom"
	"github.com/httpbind/httpbind/xmppstream"
	"github.com/httpbind/httpbind/xmppstream/xmppprom"
)

// metricsHandler serves /metrics in the Prometheus text format: the
// handler's counters (bosh_…), the upstream's (xmpp_…: SASL outcomes of
// the in-memory core's server, or the TCP upstream's streams), and the Go
// runtime's and the process's.
func metricsHandler(h *bosh.Handler, up bosh.Upstream) http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		boshprom.NewCollector(h),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	switch u := up.(type) {
	case *xmppstream.Server:
		reg.MustRegister(xmppprom.NewServerCollector(u))
	case *xmppstream.TCPUpstream:
		reg.MustRegister(xmppprom.NewTCPCollector(u))
	}
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
}
