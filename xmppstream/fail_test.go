package xmppstream

import (
	"errors"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/httpbind/httpbind/bosh"
)

// readyHeld opens a hold='1' session, logs in and binds resource.
func (h *harness) readyHeld(resource string) *session {
	h.t.Helper()
	r := h.post("<body content='text/xml; charset=utf-8' hold='1' rid='1000' ver='1.6' wait='60' xmlns='" +
		nsHTTPBind + "' " + defaultCreate + "/>")
	s := &session{h: h, rid: 1000}
	s.sid, _ = r.attr("", "sid")
	require.NotEmpty(h.t, s.sid, r.raw)
	s.login()
	r = s.bind(resource)
	require.Contains(h.t, r.raw, "<jid>juliet@example.com/"+resource+"</jid>", r.raw)
	return s
}

// TestServerFail: when the host reports its core failed, every open
// session ends at once with remote-connection-failed, each held request
// is answered, every bound client is unbound once, no goroutine is left
// (synctest.Test checks the bubble drains), and a new session is refused
// with remote-connection-failed (XEP-0124 §17.2).
func TestServerFail(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, ServerConfig{})
		bh := h.h
		const n = 3
		held := make(chan *reply, n)
		for i := range n {
			s := h.readyHeld("r" + itoa(uint64(i)))
			s.rid++
			rid := s.rid
			go func() {
				held <- h.post("<body rid='" + itoa(rid) + "' sid='" + s.sid + "' xmlns='" + nsHTTPBind + "'/>")
			}()
		}
		synctest.Wait() // the n requests are held
		require.Empty(t, held, "a request was answered before Fail")
		require.EqualValues(t, n, bh.Stats().Sessions)

		h.srv.Fail(errors.New("core connection lost"))
		synctest.Wait() // no timer needed: answered at once
		require.Len(t, held, n, "held requests answered without waiting")
		for range n {
			r := <-held
			c, ok := r.terminated()
			require.True(t, ok, r.raw)
			assert.Equal(t, string(bosh.RemoteConnectionFailed), c, r.raw)
		}
		assert.EqualValues(t, 0, bh.Stats().Sessions)
		unbound := h.core.unbinds()
		require.Len(t, unbound, n)
		seen := map[string]bool{}
		for _, u := range unbound {
			seen[u.jid.String()] = true
		}
		assert.Len(t, seen, n, "each client unbound exactly once: %v", unbound)

		h.srv.Fail(errors.New("again")) // a no-op
		_, r := h.create(defaultCreate)
		c, ok := r.terminated()
		require.True(t, ok, r.raw)
		assert.Equal(t, string(bosh.RemoteConnectionFailed), c, r.raw)
		assert.EqualValues(t, 0, bh.Stats().Sessions)
		assert.Len(t, h.core.unbinds(), n)
	})
}

// TestServerFailNil: Fail(nil) still fails the Server, and a Server with
// no session open fails later sessions.
func TestServerFailNil(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, ServerConfig{})
		h.srv.Fail(nil)
		_, r := h.create(defaultCreate)
		c, ok := r.terminated()
		require.True(t, ok, r.raw)
		assert.Equal(t, string(bosh.RemoteConnectionFailed), c, r.raw)
	})
}
