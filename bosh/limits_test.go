package bosh

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestMaxSessionsPerAddress: the limit is exact, counts by address (IPv6
// by /64), answers HTTP 503 with Retry-After (legacy clients too: overload
// is no binding condition), and is released when a session ends, by every
// path.
func TestMaxSessionsPerAddress(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		x := newTester(t, Config{MaxSessionsPerAddress: 2, TrustedProxies: []string{"10.0.0.1"}, Inactivity: 10 * time.Second})
		a1 := x.createFrom("192.0.2.1:1000", "")
		a2 := x.createFrom("192.0.2.1:1001", "")
		require.NotEmpty(t, a1.Attr("sid"), a1.Raw)
		require.NotEmpty(t, a2.Attr("sid"), a2.Raw)
		assertOverloaded(t, x.createFrom("192.0.2.1:1002", ""), "5", "third from one address")
		assertOverloaded(t, x.createFrom("192.0.2.1:1003", "-ver"), "5", "legacy client")
		assert.NotEmpty(t, x.createFrom("192.0.2.2:1000", "").Attr("sid"), "another address")
		// Behind the trusted proxy, each forwarded client is counted apart,
		// and a spoofed left hop does not help.
		assert.NotEmpty(t, x.createFrom("10.0.0.1:1", "", "X-Forwarded-For", "198.51.100.1").Attr("sid"))
		assert.NotEmpty(t, x.createFrom("10.0.0.1:1", "", "X-Forwarded-For", "1.1.1.1, 192.0.2.3").Attr("sid"))
		assertOverloaded(t, x.createFrom("10.0.0.1:1", "", "X-Forwarded-For", "9.9.9.9, 192.0.2.1"), "5", "192.0.2.1 is full")
		// IPv6: one /64 is one address.
		assert.NotEmpty(t, x.createFrom("[2001:db8:1:2::1]:1", "").Attr("sid"))
		assert.NotEmpty(t, x.createFrom("[2001:db8:1:2::2]:1", "").Attr("sid"))
		assertOverloaded(t, x.createFrom("[2001:db8:1:2:ffff::3]:1", ""), "5", "same /64")
		assert.NotEmpty(t, x.createFrom("[2001:db8:1:3::1]:1", "").Attr("sid"), "another /64")
		assert.Equal(t, 6, x.h.Stats().Addresses)

		// Ending one session frees its place at once.
		s1 := &sess{x: x, sid: a1.Attr("sid"), rid: 1000}
		require.True(t, s1.send(1, "type='terminate'", "").Type() == "terminate")
		assert.NotEmpty(t, x.createFrom("192.0.2.1:1004", "").Attr("sid"), "a place was freed")

		// Inactivity ends the others that are idle: every count is released.
		time.Sleep(11 * time.Second)
		synctest.Wait()
		assert.Zero(t, x.h.Stats().Sessions)
		assert.Zero(t, x.h.Stats().Addresses, "per-address counts back to zero")
		assert.Empty(t, x.h.perAddr.n)

		// And by shutdown.
		x.createFrom("192.0.2.1:1", "")
		require.Equal(t, 1, x.h.Stats().Addresses)
		require.NoError(t, x.h.Shutdown(context.Background()))
		assert.Zero(t, x.h.Stats().Addresses)
	})
}

// TestMaxSessionsPerAddressUpstreamRefusal: a session the upstream refuses
// releases its place.
func TestMaxSessionsPerAddressUpstreamRefusal(t *testing.T) {
	x := newTester(t, Config{MaxSessionsPerAddress: 1})
	x.up.openErr = HostUnknown
	for range 3 {
		assert.True(t, x.createFrom("192.0.2.1:1", "").IsTerm(string(HostUnknown)))
	}
	assert.Zero(t, x.h.Stats().Addresses)
	x.up.openErr = nil
	assert.NotEmpty(t, x.createFrom("192.0.2.1:1", "").Attr("sid"))
}

// TestSessionRate: SessionBurst creations at once, then one per
// 1/SessionsPerSecond; an empty bucket gives HTTP 503 with Retry-After, the
// time until the next token rounded up to whole seconds (legacy clients
// alike); requests of existing sessions are not limited.
func TestSessionRate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		x := newTester(t, Config{SessionsPerSecond: 10, SessionBurst: 3})
		x.up.echo = true
		var first *sess
		for i := range 3 {
			s := x.create(1000, "")
			if i == 0 {
				first = s
			}
		}
		assertOverloaded(t, x.send(createBody(1000, "")), "1", "burst used up")
		assertOverloaded(t, x.send(createBody(1000, "-ver")), "1", "legacy client")
		for n := range uint64(20) {
			r := first.send(n+1, "", "<m xmlns='x'/>")
			assert.Equal(t, []string{"<m xmlns='x'/>"}, r.Children, "an existing session is not limited")
		}
		time.Sleep(99 * time.Millisecond)
		assertOverloaded(t, x.send(createBody(1000, "")), "1", "not refilled yet")
		time.Sleep(time.Millisecond)
		x.create(1000, "")
		assertOverloaded(t, x.send(createBody(1000, "")), "1", "one token a tenth of a second")
		time.Sleep(time.Hour)
		for range 3 {
			x.create(1000, "")
		}
		assertOverloaded(t, x.send(createBody(1000, "")), "1", "never more than the burst")
		assert.Equal(t, uint64(5), x.h.Stats().Overloaded)
	})
}

// TestSessionRateRetryAfter: Retry-After is the time until the next token,
// and a refused creation takes no token.
func TestSessionRateRetryAfter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		x := newTester(t, Config{SessionsPerSecond: 1, SessionBurst: 1})
		x.create(1000, "")
		for range 3 {
			assertOverloaded(t, x.send(createBody(1000, "")), "1", "1s to the next token")
		}
		time.Sleep(999 * time.Millisecond)
		assertOverloaded(t, x.send(createBody(1000, "")), "1", "1ms to go")
		time.Sleep(time.Millisecond)
		x.create(1000, "") // the refusals took no token
		assert.Equal(t, int64(2), x.h.Stats().Sessions)
		assert.Equal(t, uint64(4), x.h.Stats().Overloaded)
	})
}

// TestRetryAfterSeconds: Retry-After's delay-seconds (RFC 9110 §10.2.3)
// round up, and are at least 1.
func TestRetryAfterSeconds(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want int64
	}{
		{0, 1}, {time.Nanosecond, 1}, {time.Second, 1}, {time.Second + time.Millisecond, 2},
		{2500 * time.Millisecond, 3}, {5 * time.Second, 5},
	} {
		assert.Equal(t, tc.want, (&OverloadError{RetryAfter: tc.d}).retryAfterSeconds(), "%v", tc.d)
	}
	err := error(&OverloadError{RetryAfter: time.Second, Err: errRate})
	assert.ErrorIs(t, err, ErrOverloaded)
	assert.ErrorIs(t, err, errRate)
	assert.Equal(t, InternalServerError, ConditionOf(err), "no binding condition of its own")
}

// assertOverloaded checks an answer to a request refused because the
// server is busy: HTTP 503 with Retry-After, no binding condition.
func assertOverloaded(t *testing.T, r *resp, retryAfter string, msg string) {
	t.Helper()
	assert.Equal(t, http.StatusServiceUnavailable, r.Status, "%s: %s", msg, r.Raw)
	assert.Equal(t, retryAfter, r.Header.Get("Retry-After"), msg)
}

// TestMaxPayloadSize: a child element of exactly MaxPayloadSize bytes
// passes; one byte more gets policy-violation and ends the session.
func TestMaxPayloadSize(t *testing.T) {
	x := newTester(t, Config{MaxPayloadSize: 1024})
	x.up.echo = true
	payload := func(n int) string {
		const open, end = "<m xmlns='x'>", "</m>"
		return open + strings.Repeat("a", n-len(open)-len(end)) + end
	}
	s := x.create(1000, "")
	r := s.send(1, "", payload(1024))
	assert.Equal(t, []string{payload(1024)}, r.Children, r.Raw)
	assert.Equal(t, []string{payload(1024)}, x.up.stream(t, 0).payloads())
	r = s.send(2, "", payload(1025))
	assert.True(t, r.IsTerm(string(PolicyViolation)), r.Raw)
	assert.Zero(t, x.h.Stats().Sessions, "§17.2: the session ended")
	assert.Len(t, x.up.stream(t, 0).payloads(), 1, "the large payload never reached the upstream")

	// On a creation request too.
	r = x.send(strings.TrimSuffix(createBody(2000, ""), "/>") + ">" + payload(1025) + "</body>")
	assert.True(t, r.IsTerm(string(PolicyViolation)), r.Raw)
	assert.Zero(t, x.h.Stats().Sessions)
}

// TestMaxQueueThroughHandler: an upstream that queues more than MaxQueue
// payloads for a client ends the session with policy-violation, and the
// payloads go back to it in Closing.Undelivered.
func TestMaxQueueThroughHandler(t *testing.T) {
	x := newTester(t, Config{MaxQueue: 3})
	s := x.create(1000, "")
	sink := x.up.stream(t, 0).sink
	msgs := []string{"<m xmlns='x'>1</m>", "<m xmlns='x'>2</m>", "<m xmlns='x'>3</m>", "<m xmlns='x'>4</m>"}
	for _, m := range msgs[:3] {
		require.True(t, sink.Deliver([]byte(m)))
	}
	assert.Equal(t, msgs[:3], s.send(1, "", "").Children, "three fit")
	for _, m := range msgs {
		sink.Deliver([]byte(m))
	}
	cl := x.up.stream(t, 0).closings()
	require.Len(t, cl, 1)
	assert.Equal(t, PolicyViolation, ConditionOf(cl[0].Err))
	var back []string
	for _, p := range cl[0].Undelivered {
		back = append(back, string(p))
	}
	assert.Equal(t, msgs, back, "nothing lost: every queued payload handed back")
	assert.Zero(t, x.h.Stats().Sessions)
	assert.True(t, s.send(2, "", "").IsTerm(string(ItemNotFound)), "the session is gone")
}

// TestHeldRequestsBoundedByWindow: a client cannot pile up requests in a
// session: at most 'hold' are held (a further one releases the oldest,
// §8), held and buffered together never exceed 'requests' (§11: one more
// gets policy-violation), and a rid above the window gets item-not-found
// (§14.2; TestB80RidAboveWindow). Every request inside is answered when
// the session ends.
func TestHeldRequestsBoundedByWindow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		x := newTester(t, Config{MaxHold: 2, NoPolling: true}) // §11 polling rule aside
		s := x.create(1000, "hold='2'")
		require.Equal(t, "3", s.created.Attr("requests"))
		c1 := s.post(1, "", "")
		synctest.Wait()
		c2 := s.post(2, "", "")
		synctest.Wait()
		c3 := s.post(3, "", "")
		r1 := c1.wait()
		assert.True(t, r1.IsEmpty(), "a third request releases the oldest: %s", r1.Raw)
		synctest.Wait()
		assert.Equal(t, int64(2), x.h.Stats().Held, "hold='2'")
		c5 := s.post(5, "", "") // buffered above the gap at 1004
		synctest.Wait()
		assert.Equal(t, int64(3), x.h.Stats().Held, "two held and one buffered: 'requests'")
		r := s.send(6, "", "")
		assert.True(t, r.IsTerm(string(PolicyViolation)), r.Raw)
		for _, c := range []*call{c2, c3, c5} {
			assert.True(t, c.wait().IsTerm(string(PolicyViolation)))
		}
		assert.Zero(t, x.h.Stats().Held)
		assert.Zero(t, x.h.Stats().Sessions)
	})
}

func TestLimitsConfig(t *testing.T) {
	for _, tt := range []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"defaults", Config{}, true},
		{"MaxSessionsPerAddress 1", Config{MaxSessionsPerAddress: 1}, true},
		{"MaxSessionsPerAddress negative", Config{MaxSessionsPerAddress: -1}, false},
		{"SessionsPerSecond 0.5", Config{SessionsPerSecond: 0.5}, false},
		{"SessionsPerSecond 1", Config{SessionsPerSecond: 1}, true},
		{"SessionsPerSecond 1e6", Config{SessionsPerSecond: 1e6}, true},
		{"SessionsPerSecond above 1e6", Config{SessionsPerSecond: 1e6 + 1}, false},
		{"SessionBurst negative", Config{SessionBurst: -1}, false},
		{"MaxPayloadSize 1023", Config{MaxPayloadSize: 1023}, false},
		{"MaxPayloadSize 1024", Config{MaxPayloadSize: 1024}, true},
		{"MaxPayloadSize = MaxBodySize", Config{MaxPayloadSize: 4096, MaxBodySize: 4096}, true},
		{"MaxPayloadSize > MaxBodySize", Config{MaxPayloadSize: 4097, MaxBodySize: 4096}, false},
	} {
		_, err := NewHandler(&fakeUp{}, tt.cfg)
		assert.Equal(t, tt.ok, err == nil, "%s: %v", tt.name, err)
	}
	h, err := NewHandler(&fakeUp{}, Config{})
	require.NoError(t, err)
	assert.Equal(t, DefaultMaxSessionsPerAddress, h.cfg.MaxSessionsPerAddress)
	assert.Equal(t, float64(DefaultSessionsPerSecond), h.cfg.SessionsPerSecond)
	assert.Equal(t, DefaultSessionBurst, h.cfg.SessionBurst)
	assert.Equal(t, DefaultMaxBodySize, h.cfg.MaxPayloadSize)
}
