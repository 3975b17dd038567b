package main

import (
	"encoding/base64"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/httpbind/httpbind/internal/prosodytest"
)

// script is a BOSH client that speaks raw HTTP, one request at a time, and
// counts what it sends and receives, so that a test knows exactly what
// the server's metrics must show.
type script struct {
	t        *testing.T
	url      string
	hc       *http.Client
	requests int // POSTs sent
	in, out  int // body bytes sent and received
}

func newScript(t *testing.T, url string) *script {
	// No compression: the bytes sent are the bytes received.
	return &script{t: t, url: url, hc: &http.Client{Transport: &http.Transport{DisableCompression: true}}}
}

// post sends one body and returns the status and the response body.
func (s *script) post(body string) (int, string) {
	s.t.Helper()
	res, err := s.hc.Post(s.url, "text/xml; charset=utf-8", strings.NewReader(body))
	require.NoError(s.t, err)
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	require.NoError(s.t, err)
	s.requests++
	s.in += len(body)
	s.out += len(data)
	return res.StatusCode, string(data)
}

var sidAttr = regexp.MustCompile(`sid='([^']+)'`)

// user is one scripted session.
type user struct {
	s        *script
	sid, jid string
	rid      int
}

func (u *user) body(extra, payload string) string {
	u.rid++
	return "<body rid='" + itoa(u.rid) + "' sid='" + u.sid + "'" + extra + " xmlns='http://jabber.org/protocol/httpbind'>" + payload + "</body>"
}

func (u *user) send(extra, payload, want string) string {
	u.s.t.Helper()
	status, resp := u.s.post(u.body(extra, payload))
	require.Equal(u.s.t, http.StatusOK, status, resp)
	require.Contains(u.s.t, resp, want)
	return resp
}

func itoa(n int) string { return strconv.Itoa(n) }

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

// login creates a session for name on domain and goes through XEP-0206's
// SASL PLAIN, restart, bind and session steps: five requests, each
// answered at once with what it asked for.
func (s *script) login(domain, name, password, rid string) *user {
	s.t.Helper()
	status, resp := s.post("<body rid='" + rid + "' to='" + domain + "' wait='1' hold='1' ver='1.11' xmpp:version='1.0'" +
		" xmlns='http://jabber.org/protocol/httpbind' xmlns:xmpp='urn:xmpp:xbosh'/>")
	require.Equal(s.t, http.StatusOK, status, resp)
	m := sidAttr.FindStringSubmatch(resp)
	require.NotNil(s.t, m, resp)
	u := &user{s: s, sid: m[1], rid: atoi(rid)}
	plain := base64.StdEncoding.EncodeToString([]byte("\x00" + name + "\x00" + password))
	u.send("", "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>"+plain+"</auth>", "<success")
	u.send(" to='"+domain+"' xmpp:restart='true' xmlns:xmpp='urn:xmpp:xbosh'", "", "<bind")
	resp = u.send("", "<iq type='set' id='b' xmlns='jabber:client'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>r</resource></bind></iq>", "<jid>")
	u.jid = name + "@" + domain + "/r"
	require.Contains(s.t, resp, u.jid)
	u.send("", "<iq type='set' id='s' xmlns='jabber:client'><session xmlns='urn:ietf:params:xml:ns:xmpp-session'/></iq>", "id='s'")
	return u
}

// scrape reads /metrics and parses it with the Prometheus text parser.
func scrape(t *testing.T, base string) map[string]*dto.MetricFamily {
	t.Helper()
	res, err := http.Get(base + "/metrics")
	require.NoError(t, err)
	defer res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode)
	p := expfmt.NewTextParser(model.UTF8Validation)
	mf, err := p.TextToMetricFamilies(res.Body)
	require.NoError(t, err, "the exposition parses")
	return mf
}

// value returns the value of the metric name with the labels given
// (name, value pairs): a counter, a gauge, or a histogram's count.
func value(t *testing.T, mf map[string]*dto.MetricFamily, name string, labels ...string) float64 {
	t.Helper()
	f, ok := mf[name]
	if !ok && len(labels) > 0 {
		return 0 // a labelled series not exported yet is zero
	}
	require.True(t, ok, "no metric %s", name)
next:
	for _, m := range f.Metric {
		for i := 0; i+1 < len(labels); i += 2 {
			found := false
			for _, l := range m.Label {
				found = found || (l.GetName() == labels[i] && l.GetValue() == labels[i+1])
			}
			if !found {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount())
		}
	}
	return 0 // a labelled series not exported yet is zero
}

// TestMetrics scrapes /metrics after a scripted exchange and checks that
// each metric moved by exactly what the script did: two logins, a message
// each way, a retransmission answered from the cache (XEP-0124 §14.3), a
// creation refused by -max-sessions (HTTP 503), two terminates (§13). It
// runs with the in-memory core and relaying to Prosody (skipped without
// Prosody outside CI).
func TestMetrics(t *testing.T) {
	t.Run("in-memory core", func(t *testing.T) {
		d := start(t, "-max-sessions", "2")
		names := make([]string, 0, 2)
		for n := range d.accounts {
			names = append(names, n)
		}
		require.Len(t, names, 2)
		metricsRun(t, d, "localhost", [2]string{names[0], names[1]}, [2]string{d.accounts[names[0]], d.accounts[names[1]]})
	})
	t.Run("relaying to Prosody", func(t *testing.T) {
		p := prosodytest.Start(t, prosodytest.Config{Domain: "example.test"})
		p.Register("alice", "alice secret")
		p.Register("bob", "bob secret")
		d := start(t, "-upstream", "tcp://"+p.C2SAddr, "-upstream-ca", p.CAFile, "-domain", "example.test", "-max-sessions", "2")
		metricsRun(t, d, "example.test", [2]string{"alice", "bob"}, [2]string{"alice secret", "bob secret"})
	})
}

func metricsRun(t *testing.T, d *boshd, domain string, names, passwords [2]string) {
	s := newScript(t, d.url)
	a := s.login(domain, names[0], passwords[0], "1000")
	b := s.login(domain, names[1], passwords[1], "5000")
	mid := scrape(t, d.base)
	assert.Equal(t, 2.0, value(t, mid, "bosh_sessions"))
	assert.Equal(t, 2.0, value(t, mid, "bosh_sessions_by_state", "state", "idle"), "no request held between the script's requests")
	if _, relayed := mid["xmpp_upstream_streams"]; relayed {
		assert.Equal(t, 2.0, value(t, mid, "xmpp_upstream_streams"))
	}

	// A message each way: the sender's request is held for its wait (1s)
	// and answered empty; the receiver's next request takes the message.
	a.send("", "<message to='"+b.jid+"' type='chat' xmlns='jabber:client'><body>up</body></message>", "<body")
	b.send("", "", "<body>up</body>")
	b.send("", "<message to='"+a.jid+"' type='chat' xmlns='jabber:client'><body>down</body></message>", "<body")
	poll := a.body("", "")
	status, first := s.post(poll)
	require.Equal(t, http.StatusOK, status)
	require.Contains(t, first, "<body>down</body>")
	// §14.3: the same request again gets the same response from the cache.
	status, again := s.post(poll)
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, first, again)

	// A third session is over -max-sessions: 503 with Retry-After.
	status, resp := s.post("<body rid='9000' to='" + domain + "' wait='1' hold='1' ver='1.11' xmlns='http://jabber.org/protocol/httpbind'/>")
	assert.Equal(t, http.StatusServiceUnavailable, status, resp)

	a.send(" type='terminate'", "<presence type='unavailable' xmlns='jabber:client'/>", "type='terminate'")
	b.send(" type='terminate'", "<presence type='unavailable' xmlns='jabber:client'/>", "type='terminate'")

	mf := scrape(t, d.base)
	for _, tc := range []struct {
		name   string
		labels []string
		want   int
	}{
		{"bosh_sessions", nil, 0},
		{"bosh_sessions_created_total", nil, 2},
		{"bosh_sessions_ended_total", []string{"reason", "terminate"}, 2},
		{"bosh_sessions_ended_total", []string{"reason", "inactivity"}, 0},
		{"bosh_creations_refused_total", []string{"limit", "sessions"}, 1},
		{"bosh_creations_refused_total", []string{"limit", "rate"}, 0},
		{"bosh_retransmissions_replayed_total", nil, 1},
		{"bosh_retransmissions_attached_total", nil, 0},
		{"bosh_requests_late_total", nil, 0},
		{"bosh_requests_total", nil, s.requests},
		{"bosh_request_bytes_total", nil, s.in},
		{"bosh_request_decoded_bytes_total", nil, s.in},
		{"bosh_response_bytes_total", nil, s.out},
		{"bosh_response_plain_bytes_total", nil, s.out},
		{"bosh_requests_held", nil, 0},
		{"bosh_requests_parked", nil, 0},
		{"bosh_requests_buffered", nil, 0},
		{"bosh_payloads_queued", nil, 0},
		// Every request of a session but the retransmission waited in it:
		// 4 login steps each, 2 message requests, 2 polls, 2 terminates.
		{"bosh_request_held_seconds", nil, 14},
		// Replies that carried what the upstream delivered: the creation
		// response's features and 4 login answers each, and one message
		// each.
		{"bosh_delivery_latency_seconds", nil, 12},
		{"bosh_session_creation_seconds", nil, 2},
	} {
		assert.Equal(t, float64(tc.want), value(t, mf, tc.name, tc.labels...), "%s%v", tc.name, tc.labels)
	}
	if _, relayed := mf["xmpp_upstream_streams"]; relayed {
		assert.Equal(t, 0.0, value(t, mf, "xmpp_upstream_streams"), "both streams closed")
		assert.Equal(t, 0.0, value(t, mf, "xmpp_upstream_connect_failures_total", "condition", "remote-connection-failed"))
	} else {
		assert.Equal(t, 2.0, value(t, mf, "xmpp_sasl_successes_total", "mechanism", "PLAIN"))
		assert.Equal(t, 0.0, value(t, mf, "xmpp_sasl_failures_total", "mechanism", "PLAIN"))
	}
	assert.Contains(t, mf, "go_goroutines", "the Go runtime's metrics")
	for name := range mf {
		for _, m := range mf[name].Metric {
			for _, l := range m.Label {
				assert.NotContains(t, l.GetValue(), a.sid, "no sid in a label")
				assert.NotContains(t, l.GetValue(), "@", "no JID in a label")
			}
		}
	}
}
