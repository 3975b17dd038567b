package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/httpbind/httpbind/bosh"
	"github.com/httpbind/httpbind/bosh/cluster"
	"github.com/httpbind/httpbind/xmppstream/xmpptest"
)

// TestRunCut: with -cut 0.3, ten pairs of sessions exchange twenty
// messages each through the in-process connection manager while the tool
// cuts 30% of its requests after login, in every phase (before the server
// read them, while it forwards or holds them, after it answered), and
// sends each cut request again with the same rid (XEP-0124 §14.3). The
// server answers every resend as §14.3 asks: nothing is lost, duplicated
// or reordered, no session ends, and the cuts and resends are counted.
func TestRunCut(t *testing.T) {
	for _, mode := range []string{"closed", "paced"} {
		t.Run(mode, func(t *testing.T) {
			srv := newServer(t, 20)
			res, report, err := runJSON(t, "-url", srv.URL, "-sessions", "20", "-messages", "20",
				"-password-format", "pw-%d", "-idle", "0s", "-wait", "5s", "-duration", "60s",
				"-mode", mode, "-interval", "20ms", "-cut", "0.3", "-cut-seed", "3")
			require.NoError(t, err, report)
			assert.Equal(t, 20, res.LoggedIn, report)
			assert.Equal(t, int64(400), res.Sent, report)
			assert.Equal(t, int64(400), res.Delivered, report)
			assert.Zero(t, res.Lost, report)
			assert.Zero(t, res.Duplicated, report)
			assert.Zero(t, res.OutOfOrder, report)
			assert.Zero(t, res.SessionsFailed, report)
			assert.Zero(t, res.SessionsStuck, report)
			assert.Empty(t, res.SessionsEnded, report)
			f := res.Faults
			assert.Equal(t, 0.3, f.CutRate)
			assert.Equal(t, uint64(3), f.CutSeed)
			assert.Positive(t, f.Cut, report)
			assert.Greater(t, f.Attempts, f.Cut, report)
			assert.GreaterOrEqual(t, f.Resent, f.Cut, "every cut request is sent again")
			assert.Zero(t, f.GaveUp, report)
			assert.Contains(t, report, "requests cut (-cut 0.3, -cut-seed 3)")
			assert.Contains(t, report, "no session ended by the server")
			assert.Eventually(t, func() bool { return srv.Handler.Stats().Sessions == 0 },
				5*time.Second, 10*time.Millisecond, "every session terminated")
			assert.Equal(t, map[string]uint64{"terminate": 20}, srv.Handler.Stats().Ended, "only the tool's terminates")
		})
	}
}

// TestRunCreation503: a connection manager over its creation rate answers
// HTTP 503 with Retry-After (boshd's bosh.OverloadError): the tool sends
// the creation again after the delay, counts it, and every session logs
// in.
func TestRunCreation503(t *testing.T) {
	srv, err := xmpptest.NewServer(xmpptest.Config{Handler: bosh.Config{SessionsPerSecond: 4, SessionBurst: 2}})
	require.NoError(t, err)
	t.Cleanup(srv.Close)
	for i := 1; i <= 8; i++ {
		require.NoError(t, srv.Core.AddUser(fmt.Sprintf("user%d", i), "pw"))
	}
	res, report, err := runJSON(t, "-url", srv.URL, "-sessions", "8", "-messages", "2",
		"-password", "pw", "-idle", "0s", "-wait", "5s", "-duration", "60s")
	require.NoError(t, err, report)
	assert.Equal(t, 8, res.LoggedIn, report)
	assert.Zero(t, res.LoginFailures, report)
	assert.Zero(t, res.CreateRetries, "no policy-violation")
	assert.GreaterOrEqual(t, res.Create503, int64(6), "8 creations at once, a burst of 2")
	assert.Equal(t, uint64(res.Create503), srv.Handler.Stats().Overloaded, "every 503 retried, once each")
	assert.GreaterOrEqual(t, res.LoginSeconds, 0.9, "the retries waited for Retry-After")
	assert.Empty(t, res.Errors, report)
	assert.Equal(t, int64(16), res.Delivered, report)
	assert.Regexp(t, `, \d+ after HTTP 503`, report)
}

// TestRunCreation503NoRetryAfter: a 503 without Retry-After is retried
// after a second.
func TestRunCreation503NoRetryAfter(t *testing.T) {
	back := newServer(t, 2)
	var mu sync.Mutex
	refused := 0
	var first, second time.Time
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		mu.Lock()
		if !bytes.Contains(body, []byte(" sid='")) && refused < 1 {
			refused++
			first = time.Now()
			mu.Unlock()
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		if !bytes.Contains(body, []byte(" sid='")) && second.IsZero() {
			second = time.Now()
		}
		mu.Unlock()
		back.Handler.ServeHTTP(w, r)
	}))
	t.Cleanup(ts.Close)
	res, report, err := runJSON(t, "-url", ts.URL, "-sessions", "2", "-messages", "2",
		"-password-format", "pw-%d", "-idle", "0s", "-wait", "5s", "-duration", "30s", "-login-concurrency", "1")
	require.NoError(t, err, report)
	assert.Equal(t, 2, res.LoggedIn, report)
	assert.Equal(t, int64(1), res.Create503)
	mu.Lock()
	defer mu.Unlock()
	assert.GreaterOrEqual(t, second.Sub(first), 900*time.Millisecond, "waited about a second")
}

var ridRE = regexp.MustCompile(`rid='(\d+)'`)

// TestRunResendAfterNetworkError: a connection that fails before the
// server read the request (the server closes it) is a network error: the
// tool sends the identical request again after a pause, counts it, and
// nothing is lost. A request that fails every time is given up after
// maxAttempts attempts, and its session fails without counting as ended
// by the server.
func TestRunResendAfterNetworkError(t *testing.T) {
	for _, tc := range []struct {
		name  string
		drops int // attempts dropped per message-carrying request
	}{
		{name: "first attempt dropped", drops: 1},
		{name: "every attempt dropped", drops: maxAttempts},
	} {
		t.Run(tc.name, func(t *testing.T) {
			back := newServer(t, 2)
			var mu sync.Mutex
			dropped := map[string]int{}
			gaveUpOn := ""
			ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				body, _ := io.ReadAll(r.Body)
				r.Body = io.NopCloser(bytes.NewReader(body))
				if bytes.Contains(body, []byte("<message")) {
					rid := string(ridRE.FindSubmatch(body)[1])
					mu.Lock()
					drop := dropped[rid] < tc.drops && (tc.drops < maxAttempts || gaveUpOn == "" || gaveUpOn == rid)
					if drop {
						dropped[rid]++
						gaveUpOn = rid
					}
					mu.Unlock()
					if drop {
						conn, _, err := http.NewResponseController(w).Hijack()
						if assert.NoError(t, err) {
							conn.Close()
						}
						return
					}
				}
				back.Handler.ServeHTTP(w, r)
			}))
			t.Cleanup(ts.Close)
			res, report, err := runJSON(t, "-url", ts.URL, "-sessions", "2", "-messages", "5", "-mode", "paced",
				"-interval", "20ms", "-password-format", "pw-%d", "-idle", "0s", "-wait", "5s", "-duration", "30s", "-drain", "2s")
			require.NoError(t, err, report)
			f := res.Faults
			assert.Zero(t, f.Cut)
			assert.Equal(t, f.Resent, f.ResentOther)
			assert.Empty(t, res.SessionsEnded, "a network failure is not the server ending the session")
			if tc.drops == 1 {
				assert.Positive(t, f.Resent, report)
				assert.Zero(t, f.GaveUp, report)
				assert.Zero(t, res.Lost, report)
				assert.Equal(t, int64(10), res.Delivered, report)
				assert.Zero(t, res.SessionsFailed, report)
				return
			}
			assert.Equal(t, int64(1), f.GaveUp, report)
			assert.Equal(t, int64(maxAttempts-1), f.Resent, report)
			assert.Equal(t, 1, res.SessionsFailed, report)
			assert.Positive(t, res.Lost, report)
			assert.Contains(t, report, "gave up after 8 attempts")
		})
	}
}

// endFirstMessage starts a proxy to back that answers the first request
// carrying a message with a terminate body, item-not-found (XEP-0124
// §17.2), and sets header on every response.
func endFirstMessage(t *testing.T, back *xmpptest.Server, header http.Header) *httptest.Server {
	var mu sync.Mutex
	ended := false
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		mu.Lock()
		end := bytes.Contains(body, []byte("<message")) && !ended
		ended = ended || end
		mu.Unlock()
		for k, v := range header {
			w.Header()[k] = v
		}
		if end {
			w.Header().Set("Content-Type", "text/xml; charset=utf-8")
			io.WriteString(w, "<body type='terminate' condition='item-not-found' xmlns='http://jabber.org/protocol/httpbind'/>")
			return
		}
		back.Handler.ServeHTTP(w, r)
	}))
	t.Cleanup(ts.Close)
	return ts
}

// TestRunEndedByServer: a server that answers a request with a terminal
// condition (XEP-0124 §17.2) ends the session; the tool counts it by
// condition.
func TestRunEndedByServer(t *testing.T) {
	ts := endFirstMessage(t, newServer(t, 4), nil)
	res, report, err := runJSON(t, "-url", ts.URL, "-sessions", "4", "-messages", "5", "-mode", "paced",
		"-interval", "20ms", "-password-format", "pw-%d", "-idle", "0s", "-wait", "5s", "-duration", "30s", "-drain", "2s")
	require.NoError(t, err, report)
	assert.Equal(t, map[string]int{"item-not-found": 1}, res.SessionsEnded, report)
	assert.Equal(t, 1, res.SessionsFailed, report)
	assert.Positive(t, res.Lost, report)
	assert.Contains(t, report, "1 sessions ended by the server: 1× item-not-found")
}

// TestReceiveBounced: a message of type 'error' is one of the session's
// own messages coming back (RFC 6120 §8.3): counted as bounced, not as
// delivered nor foreign. One of its own messages handed back as it was
// sent is echoed.
func TestReceiveBounced(t *testing.T) {
	o, err := parseFlags([]string{"-password", "x", "-sessions", "2", "-messages", "3"}, io.Discard)
	require.NoError(t, err)
	l := newLoad(context.Background(), o, time.Now())
	s := l.sessions[0]
	s.mu.Lock()
	defer s.mu.Unlock()
	s.receiveLocked([]byte(`<message from="user2@localhost/boshload" type="error" xmlns="jabber:client"><body>0 1 5</body><error type="cancel"><service-unavailable xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/></error></message>`), 10, false)
	s.receiveLocked([]byte(`<message from='user2@localhost/boshload' type='chat' xmlns='jabber:client'><body>1 0 5</body></message>`), 10, false)
	s.receiveLocked([]byte(`<message from='user3@localhost/boshload' type='chat' xmlns='jabber:client'><body>7 0 5</body></message>`), 10, false)
	s.receiveLocked([]byte(`<message to='user2@localhost/boshload' type='chat' xmlns='jabber:client'><body>0 2 5</body></message>`), 10, false)
	assert.Equal(t, 1, s.recv.bounced)
	assert.Equal(t, 1, s.recv.echoed, "its own message, handed back")
	assert.Equal(t, 1, s.recv.count)
	assert.Equal(t, 1, s.recv.foreign)
}

func TestLate(t *testing.T) {
	s := int64(time.Second)
	assert.Zero(t, late(nil))
	assert.Zero(t, late([]int64{1, s, 5 * s}), "5 s is not late")
	assert.Equal(t, int64(2), late([]int64{1, 5 * s, 5*s + 1, 30 * s}))
}

// TestRunRelogin: with -relogin, a session the server ends (XEP-0124
// §17.2) logs in again as the same account and carries on; the relogin
// is counted by condition and the message its ended request carried is
// lost, and said to be lost with the ended session, never hidden. Every
// response here carries cluster.HopHeader, as if a node had forwarded it:
// every message counts as forwarded.
func TestRunRelogin(t *testing.T) {
	ts := endFirstMessage(t, newServer(t, 4), http.Header{cluster.HopHeader: {"n9"}})
	start := time.Now()
	res, report, err := runJSON(t, "-url", ts.URL, "-sessions", "4", "-messages", "10", "-mode", "paced", "-relogin",
		"-interval", "50ms", "-password-format", "pw-%d", "-idle", "0s", "-wait", "5s", "-duration", "30s", "-drain", "2s")
	require.NoError(t, err, report)
	assert.Equal(t, map[string]int{"item-not-found": 1}, res.Relogins, report)
	assert.Equal(t, map[string]int{"item-not-found": 1}, res.SessionsEnded, report)
	first := res.Nodes[""].FirstEnded
	assert.True(t, first.After(start) && first.Before(time.Now()), "when the server first ended a session: %v", first)
	assert.Equal(t, map[string]nodeFigures{"": {Logins: 5, Ended: map[string]int{"item-not-found": 1}, FirstEnded: first}}, res.Nodes, "no node prefix: 4 logins and a relogin")
	assert.Zero(t, res.SessionsFailed, "the session lives on")
	assert.Equal(t, int64(40), res.Sent, "the relogged session sent all its messages")
	assert.Equal(t, int64(1), res.Lost, report)
	assert.Equal(t, int64(1), res.LostFromEnded, "in the request the server ended")
	assert.Equal(t, map[string]int{">": 1}, res.LostByRoute, "no node prefix")
	assert.Zero(t, res.LostLive+res.LostToEnded+res.LostToGone, report)
	assert.Equal(t, int64(39), res.Delivered, report)
	assert.Equal(t, res.Delivered, res.Forwarded, "every response came with the hop header")
	assert.Zero(t, res.LatencyDirect.LatencyMaxMs)
	assert.Positive(t, res.LatencyForwarded.LatencyMaxMs)
	assert.Contains(t, report, "relogins:  1× item-not-found")
	assert.Contains(t, report, "1 from one ended after")
}

// TestRunResendAfter503: a request answered with HTTP 503 (a cluster node
// that cannot reach the session's owner for now) is sent again as it is
// after its Retry-After: nothing is lost and the session lives on.
func TestRunResendAfter503(t *testing.T) {
	back := newServer(t, 2)
	var mu sync.Mutex
	refused := 0
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		mu.Lock()
		refuse := bytes.Contains(body, []byte("<message")) && refused < 2
		if refuse {
			refused++
		}
		mu.Unlock()
		if refuse {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		back.Handler.ServeHTTP(w, r)
	}))
	t.Cleanup(ts.Close)
	res, report, err := runJSON(t, "-url", ts.URL, "-sessions", "2", "-messages", "5", "-mode", "paced",
		"-interval", "20ms", "-password-format", "pw-%d", "-idle", "0s", "-wait", "5s", "-duration", "30s", "-drain", "3s")
	require.NoError(t, err, report)
	assert.Equal(t, int64(2), res.Faults.ResentBusy, report)
	assert.Zero(t, res.Lost, report)
	assert.Equal(t, int64(10), res.Delivered, report)
	assert.Empty(t, res.SessionsEnded, report)
	assert.Contains(t, report, "2 sent again after HTTP 502, 503 or 504")
}
