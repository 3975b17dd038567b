// Package boshprom exports a bosh.Handler's counters to Prometheus.
//
// It sits above package bosh and is the only part of the library that
// imports the Prometheus client: a host that wants the metrics imports it
// and registers a Collector in its own registry; one that does not pays
// nothing. The collector reads bosh.Handler.Stats at each scrape, so the
// request path does no extra work for it.
//
//	reg := prometheus.NewRegistry()
//	reg.MustRegister(boshprom.NewCollector(h))
//	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
//
// Every metric is named bosh_…; labels take values from small fixed sets
// (states, limits, end reasons), never a sid, a JID or an address.
package boshprom

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/httpbind/httpbind/bosh"
)

// Collector is a prometheus.Collector for one bosh.Handler.
type Collector struct {
	h *bosh.Handler
}

// NewCollector returns a Collector of h's counters.
func NewCollector(h *bosh.Handler) *Collector { return &Collector{h: h} }

var (
	descSessions = prometheus.NewDesc("bosh_sessions",
		"BOSH sessions open now.", nil, nil)
	descStates = prometheus.NewDesc("bosh_sessions_by_state",
		"Open sessions by what they hold: held (a request is held), paused, idle (no request held).", []string{"state"}, nil)
	descHeld = prometheus.NewDesc("bosh_requests_held",
		"Requests inside a session now, held or being answered.", nil, nil)
	descParked = prometheus.NewDesc("bosh_requests_parked",
		"Of the held requests, those parked by bosh.Serve without a goroutine.", nil, nil)
	descBuffered = prometheus.NewDesc("bosh_requests_buffered",
		"Requests waiting above a rid gap now (XEP-0124 §14.2).", nil, nil)
	descQueued = prometheus.NewDesc("bosh_payloads_queued",
		"Payloads queued for their clients now.", nil, nil)
	descAddresses = prometheus.NewDesc("bosh_client_addresses",
		"Client addresses with sessions open now.", nil, nil)
	descRequests = prometheus.NewDesc("bosh_requests_total",
		"POST requests served.", nil, nil)
	descBytesIn = prometheus.NewDesc("bosh_request_bytes_total",
		"Request body bytes as received, compressed or not.", nil, nil)
	descBytesInDecoded = prometheus.NewDesc("bosh_request_decoded_bytes_total",
		"Request body bytes after decompression.", nil, nil)
	descBytesOut = prometheus.NewDesc("bosh_response_bytes_total",
		"Response body bytes as sent, compressed or not.", nil, nil)
	descBytesOutPlain = prometheus.NewDesc("bosh_response_plain_bytes_total",
		"Response body bytes before compression.", nil, nil)
	descCreated = prometheus.NewDesc("bosh_sessions_created_total",
		"Sessions created.", nil, nil)
	descEnded = prometheus.NewDesc("bosh_sessions_ended_total",
		"Sessions ended, by reason: terminate, inactivity, or the terminal condition.", []string{"reason"}, nil)
	descRefused = prometheus.NewDesc("bosh_creations_refused_total",
		"Session creations answered HTTP 503 (overload), by limit: rate, sessions, address.", []string{"limit"}, nil)
	descReplayed = prometheus.NewDesc("bosh_retransmissions_replayed_total",
		"Retransmitted requests answered with the reply kept for them (XEP-0124 §14.3).", nil, nil)
	descAttached = prometheus.NewDesc("bosh_retransmissions_attached_total",
		"Retransmitted requests that waited for the reply of the request still in the session (XEP-0124 §14.3).", nil, nil)
	descLate = prometheus.NewDesc("bosh_requests_late_total",
		"Requests for a rid given up after GapTimeout (XEP-0124 §14.2) that arrived after all and were processed late.", nil, nil)
	descHeldFor = prometheus.NewDesc("bosh_request_held_seconds",
		"Time requests waited in their session for a reply.", nil, nil)
	descDelivery = prometheus.NewDesc("bosh_delivery_latency_seconds",
		"Time from a payload's delivery by the upstream to the response that carries it (made, and written at once).", nil, nil)
	descCreation = prometheus.NewDesc("bosh_session_creation_seconds",
		"Time to answer a session creation request, the upstream's Open included.", nil, nil)
)

// Describe sends the descriptions of the metrics.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{
		descSessions, descStates, descHeld, descParked, descBuffered, descQueued, descAddresses,
		descRequests, descBytesIn, descBytesInDecoded, descBytesOut, descBytesOutPlain,
		descCreated, descEnded, descRefused, descReplayed, descAttached, descLate,
		descHeldFor, descDelivery, descCreation,
	} {
		ch <- d
	}
}

// Collect sends the metrics, from one bosh.Handler.Stats snapshot.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	s := c.h.Stats()
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge(descSessions, float64(s.Sessions))
	for state, n := range s.States {
		gauge(descStates, float64(n), state)
	}
	gauge(descHeld, float64(s.Held))
	gauge(descParked, float64(s.Parked))
	gauge(descBuffered, float64(s.Buffered))
	gauge(descQueued, float64(s.Queued))
	gauge(descAddresses, float64(s.Addresses))
	counter(descRequests, s.Requests)
	counter(descBytesIn, s.BytesIn)
	counter(descBytesInDecoded, s.BytesInDecoded)
	counter(descBytesOut, s.BytesOut)
	counter(descBytesOutPlain, s.BytesOutPlain)
	counter(descCreated, s.Created)
	for reason, n := range s.Ended {
		counter(descEnded, n, reason)
	}
	for limit, n := range s.Refused {
		counter(descRefused, n, limit)
	}
	counter(descReplayed, s.Replayed)
	counter(descAttached, s.Attached)
	counter(descLate, s.Late)
	ch <- histogram(descHeldFor, s.HeldFor)
	ch <- histogram(descDelivery, s.Delivery)
	ch <- histogram(descCreation, s.Creation)
}

// histogram turns a bosh.Histogram into a Prometheus histogram in seconds.
func histogram(d *prometheus.Desc, h bosh.Histogram) prometheus.Metric {
	buckets := make(map[float64]uint64, len(h.Bounds))
	for i, b := range h.Bounds {
		buckets[b.Seconds()] = h.Counts[i]
	}
	return prometheus.MustNewConstHistogram(d, h.Count, h.Sum.Seconds(), buckets)
}
