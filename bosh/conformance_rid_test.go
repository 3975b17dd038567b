package bosh

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Conformance tests for XEP-0124 §13 (terminating the session) and §14
// (request ids). §15 and §17 are in conformance_keys_errors_test.go, §18
// and §19 in conformance_security_test.go.

const (
	ridMsgA     = "<message xmlns='jabber:client' to='a@example.com'><body>A</body></message>"
	ridMsgB     = "<message xmlns='jabber:client' to='b@example.com'><body>B</body></message>"
	ridMsgC     = "<message xmlns='jabber:client' to='c@example.com'><body>C</body></message>"
	ridPresence = "<presence type='unavailable' xmlns='jabber:client'/>"
)

// ridLogUp wraps a fakeUp so that the Send and Close calls of every stream
// land in one log, in the order the handler made them.
type ridLogUp struct {
	*fakeUp
	mu  sync.Mutex
	log []string
}

type ridLogStream struct {
	Stream
	up *ridLogUp
}

func (u *ridLogUp) Open(ctx context.Context, req *OpenRequest, sink Sink) (Stream, error) {
	st, err := u.fakeUp.Open(ctx, req, sink)
	if err != nil {
		return nil, err
	}
	return &ridLogStream{Stream: st, up: u}, nil
}

func (u *ridLogUp) add(e string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.log = append(u.log, e)
}

func (u *ridLogUp) events() []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]string(nil), u.log...)
}

func (s *ridLogStream) Send(ctx context.Context, req *Request) error {
	e := "send"
	if req.Terminate {
		e = "terminate"
	}
	for _, p := range req.Payloads {
		e += " " + string(p)
	}
	s.up.add(e)
	return s.Stream.Send(ctx, req)
}

func (s *ridLogStream) Close(c Closing) {
	s.up.add("close")
	s.Stream.Close(c)
}

// newRidLogTester is newTester over a ridLogUp.
func newRidLogTester(t *testing.T, cfg Config) (*tester, *ridLogUp) {
	t.Helper()
	up := &ridLogUp{fakeUp: &fakeUp{}}
	h, err := NewHandler(up, cfg)
	require.NoError(t, err)
	x := &tester{t: t, h: h, up: up.fakeUp}
	t.Cleanup(func() { x.h.Shutdown(context.Background()) })
	return x, up
}

// ridDead asserts that the session is over: a further request gets
// TERM(item-not-found) (§7.1, §17.2).
func ridDead(t *testing.T, s *sess, n uint64) {
	t.Helper()
	r := s.send(n, "", "")
	assert.True(t, r.IsTerm("item-not-found"), "session should be dead: %s", r.Raw)
}

func TestTerminateForwardsPayloadsBeforeClose(t *testing.T) {
	// XEP-0124 §13: the payloads of the terminate request reach the server
	// before the stream is closed (graceful logoff).
	synctest.Test(t, func(t *testing.T) {
		x, up := newRidLogTester(t, Config{})
		s := x.create(1000, "")
		r := s.send(1, "type='terminate'", ridPresence)
		assert.Equal(t, "terminate", r.Type(), r.Raw)
		assert.Equal(t, []string{"terminate " + ridPresence, "close"}, up.events())
		st := x.up.stream(t, 0)
		reqs := st.requests()
		require.Len(t, reqs, 1)
		assert.True(t, reqs[0].Terminate)
		closings := st.closings()
		require.Len(t, closings, 1)
		assert.NoError(t, closings[0].Err, "§13: a client terminate is a normal close")
	})
}

func TestTerminateAcknowledgedOnOldestConnection(t *testing.T) {
	// XEP-0124 §13, Example 16: the oldest open connection gets
	// <body type='terminate'/>, every other one an empty body, all HTTP 200.
	cases := []struct {
		name    string
		hold    int
		before  int // empty requests held before the terminate request
		goneOne bool
	}{
		{name: "nothing held: the terminate request itself is acknowledged (§13)", hold: 1},
		{name: "REQ 1 held: REQ 1 gets type='terminate', REQ 2 empty (§13)", hold: 1, before: 1},
		{name: "two held: the oldest gets type='terminate' (§13)", hold: 2, before: 2},
		{name: "the oldest held request's client is gone: the next open one is acknowledged (§13)", hold: 2, before: 2, goneOne: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				x := newTester(t, Config{MaxHold: 2, NoPolling: true})
				s := x.create(1000, "hold='"+strconv.Itoa(tc.hold)+"'")
				var calls []*call
				var cancel context.CancelFunc
				for n := 1; n <= tc.before; n++ {
					if n == 1 && tc.goneOne {
						var ctx context.Context
						ctx, cancel = context.WithCancel(context.Background())
						req := httptest.NewRequestWithContext(ctx, http.MethodPost, "/http-bind", strings.NewReader(s.body(1, "", "")))
						calls = append(calls, x.do(req))
					} else {
						calls = append(calls, s.post(uint64(n), "", ""))
					}
					synctest.Wait()
				}
				if cancel != nil {
					cancel()
					synctest.Wait()
					calls = calls[1:] // gone: it writes nothing
				}
				term := s.post(uint64(tc.before+1), "type='terminate'", "")
				calls = append(calls, term)
				for i, c := range calls {
					r := c.wait()
					assert.Equal(t, http.StatusOK, r.Status)
					assert.Empty(t, r.Condition(), "§13: a client terminate carries no condition")
					assert.Empty(t, r.Children)
					if i == 0 {
						assert.Equal(t, "terminate", r.Type(), "oldest open connection: %s", r.Raw)
					} else {
						assert.True(t, r.IsEmpty(), "other connections get an empty body: %s", r.Raw)
					}
				}
				assert.Equal(t, uint64(1), x.h.Stats().Ended["terminate"])
			})
		})
	}
}

func TestTerminatedSessionIsGone(t *testing.T) {
	// XEP-0124 §13: after termination the session no longer exists.
	synctest.Test(t, func(t *testing.T) {
		x := newTester(t, Config{})
		s := x.create(1000, "")
		r := s.send(1, "type='terminate'", "")
		require.Equal(t, "terminate", r.Type())
		ridDead(t, s, 2)
		assert.Equal(t, int64(0), x.h.Stats().Sessions)
		st := x.up.stream(t, 0)
		r = s.send(3, "", ridMsgA)
		assert.True(t, r.IsTerm("item-not-found"), r.Raw)
		assert.Empty(t, st.payloads(), "nothing reaches the upstream after the end")
	})
}

func TestTerminateWaitsForRidGap(t *testing.T) {
	// XEP-0124 §13, §14.2: a terminate ahead of a gap is processed in rid
	// order, after the request that fills the gap.
	synctest.Test(t, func(t *testing.T) {
		x, up := newRidLogTester(t, Config{})
		s := x.create(1000, "")
		term := s.post(2, "type='terminate'", ridPresence)
		synctest.Wait()
		assert.False(t, term.Done(), "the terminate waits for REQ 1")
		assert.Empty(t, up.events(), "nothing is forwarded before the gap is filled")
		first := s.post(1, "", ridMsgA)
		r1, r2 := first.wait(), term.wait()
		assert.Equal(t, []string{"send " + ridMsgA, "terminate " + ridPresence, "close"}, up.events())
		assert.Equal(t, "terminate", r1.Type(), "REQ 1 is the oldest open connection: %s", r1.Raw)
		assert.True(t, r2.IsEmpty(), r2.Raw)
		assert.False(t, term.at.Before(first.at), "REQ 2 is not answered before REQ 1")
		ridDead(t, s, 3)
	})
}

func TestLargeRids(t *testing.T) {
	// XEP-0124 §14.1: rids go up to 2^53-1; they are parsed as unsigned
	// 64-bit integers, never 32-bit or float.
	for _, rid := range []uint64{4294967295, 4294967296, 9007199254740000, 9007199254740991 - 25} {
		t.Run("rid="+strconv.FormatUint(rid, 10)+" (§14.1)", func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				x := newTester(t, Config{})
				x.up.echo = true
				s := x.create(rid, "")
				assert.Equal(t, strconv.FormatUint(rid, 10), s.created.Attr("ack"))
				for n := uint64(1); n <= 25; n++ {
					msg := "<message xmlns='jabber:client'><body>" + strconv.FormatUint(n, 10) + "</body></message>"
					r := s.send(n, "", msg)
					require.Equal(t, []string{msg}, r.Children, "request %d: %s", n, r.Raw)
					require.Empty(t, r.Type(), r.Raw)
				}
				assert.Len(t, x.up.stream(t, 0).payloads(), 25)
			})
		})
	}
	for _, rid := range []string{"9007199254740992", "18446744073709551616", "99999999999999999999999"} {
		t.Run("rid="+rid+" beyond 2^53-1 is bad-request (§14.1)", func(t *testing.T) {
			x := newTester(t, Config{})
			r := x.send(createBody(1, "rid='"+rid+"'"))
			assert.True(t, r.IsTerm("bad-request"), r.Raw)
			assert.Empty(t, x.up.opens, "no session is created")
		})
	}
	t.Run("a request rid beyond 2^53-1 is refused (§14.1)", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			x := newTester(t, Config{})
			x.up.echo = true
			s := x.create(1<<53-2, "")
			r := s.send(1, "", ridMsgA)
			require.Equal(t, []string{ridMsgA}, r.Children, r.Raw)
			r = s.send(2, "", ridMsgB)
			assert.True(t, r.IsTerm("bad-request"), r.Raw)
			assert.Equal(t, []string{ridMsgA}, x.up.stream(t, 0).payloads())
		})
	})
}

func TestOutOfOrderRequestsForwardedInRidOrder(t *testing.T) {
	// XEP-0124 §14.2: requests inside the window wait in a buffer until the
	// gap is filled; payloads go upstream and requests are answered in rid
	// order.
	msgs := []string{ridMsgA, ridMsgB, ridMsgC}
	cases := []struct {
		name  string
		hold  int
		order []uint64
	}{
		{name: "REQ 2 before REQ 1, requests='2' (§14.2)", hold: 1, order: []uint64{2, 1}},
		{name: "REQ 3, REQ 2, REQ 1, requests='3' (§14.2)", hold: 2, order: []uint64{3, 2, 1}},
		{name: "REQ 2, REQ 3, REQ 1, requests='3' (§14.2)", hold: 2, order: []uint64{2, 3, 1}},
		{name: "REQ 1, REQ 3, REQ 2, requests='3' (§14.2)", hold: 2, order: []uint64{1, 3, 2}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				x := newTester(t, Config{MaxHold: 2})
				s := x.create(1000, "hold='"+strconv.Itoa(tc.hold)+"'")
				require.Equal(t, strconv.Itoa(tc.hold+1), s.created.Attr("requests"))
				calls := make([]*call, len(tc.order)+1)
				for _, n := range tc.order {
					calls[n] = s.post(n, "", msgs[n-1])
					synctest.Wait()
					if n != 1 && calls[1] == nil {
						assert.Empty(t, x.up.stream(t, 0).payloads(), "REQ %d waits for REQ 1", n)
					}
					for m := uint64(2); m < uint64(len(calls)); m++ {
						if calls[m] != nil && calls[m-1] == nil {
							assert.False(t, calls[m].Done(), "REQ %d answered before REQ %d", m, m-1)
						}
					}
				}
				assert.Equal(t, msgs[:len(tc.order)], x.up.stream(t, 0).payloads(), "payloads go upstream in rid order")
				// hold+1 requests are in: the oldest is answered, the others held.
				r := calls[1].wait()
				assert.True(t, r.IsEmpty(), r.Raw)
				for n := 2; n < len(calls); n++ {
					assert.False(t, calls[n].Done(), "REQ %d is held", n)
				}
				x.up.stream(t, 0).sink.Deliver([]byte(ridMsgC))
				r = calls[2].wait()
				assert.Equal(t, []string{ridMsgC}, r.Children, "the next in rid order takes the data")
			})
		})
	}
}

func TestRidAboveWindow(t *testing.T) {
	// XEP-0124 §14.2, Example 17: a rid above the window terminates the
	// session with item-not-found (HTTP 404 for a legacy client, §17.1).
	cases := []struct {
		name   string
		extra  string
		status int
	}{
		{name: "rid above the window → item-not-found (§14.2)", status: http.StatusOK},
		{name: "legacy client: HTTP 404 (§14.2, §17.1)", extra: "-ver", status: http.StatusNotFound},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				x := newTester(t, Config{})
				s := x.create(1000, tc.extra)
				require.Equal(t, "2", s.created.Attr("requests"))
				r := s.send(3, "", ridMsgA)
				assert.Equal(t, tc.status, r.Status)
				assert.Equal(t, "terminate", r.Type(), r.Raw)
				assert.Equal(t, "item-not-found", r.Condition())
				st := x.up.stream(t, 0)
				assert.Empty(t, st.payloads(), "the request is not processed")
				require.Len(t, st.closings(), 1)
				assert.ErrorIs(t, st.closings()[0].Err, ItemNotFound)
				ridDead(t, s, 1)
			})
		})
	}
}

func TestWindowAnchorsOnLastInOrderRid(t *testing.T) {
	// XEP-0124 §14.2: the window is (last in-order rid,
	// last + requests]; a buffered REQ 2 does not move it. (By default a
	// rid gap is given up instead: see TestGapGivenUpByRidAboveWindow.)
	synctest.Test(t, func(t *testing.T) {
		x := newTester(t, Config{StrictWindow: true})
		s := x.create(1000, "")
		two := s.post(2, "", "")
		synctest.Wait()
		require.False(t, two.Done())
		r := s.send(3, "", "")
		assert.True(t, r.IsTerm("item-not-found"), "REQ 3 is beyond 1000+2: %s", r.Raw)
		assert.True(t, two.wait().IsTerm("item-not-found"), "the buffered request ends with the session")
	})
}

func TestPauseResponseReplayed(t *testing.T) {
	// XEP-0124 §14.3 says a pause response need not be kept (SHOULD), so
	// that a resend would get item-not-found and lose the session. Chosen
	// behaviour: the pause response is kept and replayed like any other, so
	// a retransmitted pause does not end the session. (The other half of
	// That type='error' responses are not replayed (§14.3) is in
	// TestRepeatedPendingRid.)
	synctest.Test(t, func(t *testing.T) {
		x := newTester(t, Config{})
		s := x.create(1000, "")
		first := s.send(1, "pause='10'", "")
		require.True(t, first.IsEmpty(), first.Raw)
		again := s.send(1, "pause='10'", "")
		assert.Equal(t, first.Raw, again.Raw, "the pause response is replayed")
		assert.Equal(t, int64(1), x.h.Stats().Sessions, "the session goes on")
	})
}

func TestRepeatedAnsweredRidGetsCachedCopy(t *testing.T) {
	// XEP-0124 §14.3: a repeated rid that was answered gets the buffered
	// copy, and its payloads are not forwarded again.
	synctest.Test(t, func(t *testing.T) {
		x := newTester(t, Config{})
		x.up.echo = true
		s := x.create(1000, "")
		first := s.send(1, "", ridMsgA)
		require.Equal(t, []string{ridMsgA}, first.Children)
		again := s.send(1, "", ridMsgA)
		assert.Equal(t, http.StatusOK, again.Status)
		assert.Equal(t, first.Raw, again.Raw, "byte-identical copy")
		assert.Equal(t, []string{ridMsgA}, x.up.stream(t, 0).payloads(), "forwarded once")
		// The session goes on.
		r := s.send(2, "", ridMsgB)
		assert.Equal(t, []string{ridMsgB}, r.Children)
	})
}

func TestRepeatedRidAnsweredAtWaitIsReplayed(t *testing.T) {
	// XEP-0124 §14.3: an empty response (wait expired) is replayed too.
	synctest.Test(t, func(t *testing.T) {
		x := newTester(t, Config{})
		s := x.create(1000, "wait='5'")
		c := s.post(1, "", "")
		time.Sleep(5 * time.Second)
		first := c.wait()
		require.True(t, first.IsEmpty(), first.Raw)
		again := s.send(1, "", "")
		assert.Equal(t, first.Raw, again.Raw)
	})
}

func TestRepeatedPendingRid(t *testing.T) {
	// XEP-0124 §14.3: a repeated rid that is still pending waits for the
	// same reply as the original; both connections get it, so the client
	// reads it on whichever it still has. (§14.3's SHOULD answers the
	// older one at once with type='error'; clients in use take that error
	// for the answer, and the reply is lost if the newer connection is
	// already closed. See Session.Handle.) The reply is then replayed.
	synctest.Test(t, func(t *testing.T) {
		x := newTester(t, Config{})
		s := x.create(1000, "")
		a := s.post(1, "", "")
		synctest.Wait()
		require.False(t, a.Done())
		b := s.post(1, "", "")
		c := s.post(1, "", "")
		synctest.Wait()
		for _, k := range []*call{a, b, c} {
			assert.False(t, k.Done(), "every connection of REQ 1 is held")
		}
		x.up.stream(t, 0).sink.Deliver([]byte(ridMsgA))
		ra := a.wait()
		assert.Equal(t, []string{ridMsgA}, ra.Children)
		assert.Equal(t, ra.Raw, b.wait().Raw, "the same reply on every connection")
		assert.Equal(t, ra.Raw, c.wait().Raw, "the same reply on every connection")
		// §14.3: the replay is the real response.
		again := s.send(1, "", "")
		assert.Equal(t, ra.Raw, again.Raw)
		assert.Len(t, x.up.opens, 1)
		assert.Equal(t, int64(1), x.h.Stats().Sessions)
	})
}

func TestRepeatedBufferedRid(t *testing.T) {
	// XEP-0124 §14.3: a repeat of a rid buffered above a gap waits beside
	// it; the payloads go upstream once, in rid order.
	synctest.Test(t, func(t *testing.T) {
		x := newTester(t, Config{})
		s := x.create(1000, "")
		a := s.post(2, "", ridMsgB)
		synctest.Wait()
		b := s.post(2, "", ridMsgB)
		synctest.Wait()
		assert.False(t, a.Done())
		assert.False(t, b.Done())
		one := s.post(1, "", ridMsgA)
		assert.True(t, one.wait().IsEmpty())
		assert.Equal(t, []string{ridMsgA, ridMsgB}, x.up.stream(t, 0).payloads())
		synctest.Wait()
		assert.False(t, a.Done(), "REQ 2 is held")
		assert.False(t, b.Done(), "REQ 2 is held")
	})
}

func TestTooManyRepeats(t *testing.T) {
	// XEP-0124 §14.3: the CM MAY limit repeats of one rid; past the limit
	// (five connections waiting at once for one rid) it sends
	// policy-violation (HTTP 403 legacy, §17.1).
	cases := []struct {
		name   string
		extra  string
		status int
	}{
		{name: "fifth repeat of a pending rid → policy-violation (§14.3)", status: http.StatusOK},
		{name: "legacy client: HTTP 403 (§14.3, §17.1)", extra: "-ver", status: http.StatusForbidden},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				x := newTester(t, Config{})
				s := x.create(1000, tc.extra)
				var calls []*call
				for range 5 {
					calls = append(calls, s.post(1, "", ""))
					synctest.Wait()
				}
				for i, c := range calls {
					require.False(t, c.Done(), "connection %d: four repeats are tolerated", i)
				}
				r := s.send(1, "", "")
				assert.Equal(t, tc.status, r.Status)
				assert.Equal(t, "terminate", r.Type(), r.Raw)
				assert.Equal(t, "policy-violation", r.Condition())
				held := calls[0].wait()
				assert.Equal(t, "policy-violation", held.Condition(), held.Raw)
				ridDead(t, s, 2)
			})
		})
	}
}

func TestRidNoLongerBuffered(t *testing.T) {
	// XEP-0124 §14.3, Example 18: a repeated rid whose response is no longer
	// buffered gets item-not-found (404 legacy), whether the rid is just
	// below the cache or far below it.
	cases := []struct {
		name   string
		extra  string
		rid    uint64 // the request number resent
		status int
	}{
		{name: "REQ 1 after REQ 4, requests='2' (§14.3)", rid: 1, status: http.StatusOK},
		{name: "legacy client: HTTP 404 (§14.3, §17.1)", extra: "-ver", rid: 1, status: http.StatusNotFound},
		{name: "the creation rid (§14.3)", rid: 0, status: http.StatusOK},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				x := newTester(t, Config{})
				x.up.echo = true
				s := x.create(1000, "wait='5' "+tc.extra)
				var last *resp
				for n := uint64(1); n <= 4; n++ {
					last = s.send(n, "", "<message xmlns='jabber:client'><body>"+strconv.FormatUint(n, 10)+"</body></message>")
					require.Len(t, last.Children, 1)
				}
				// Without acks, replies beyond the last 'requests' are kept
				// for 2×wait+10s (Session.Handle).
				time.Sleep(20*time.Second + time.Nanosecond)
				three := s.send(3, "", "<message xmlns='jabber:client'><body>3</body></message>")
				assert.Equal(t, "<message xmlns='jabber:client'><body>3</body></message>", strings.Join(three.Children, ""), "REQ 3 is still buffered")
				r := s.send(tc.rid, "", "")
				assert.Equal(t, tc.status, r.Status)
				assert.Equal(t, "terminate", r.Type(), r.Raw)
				assert.Equal(t, "item-not-found", r.Condition())
				assert.Len(t, x.up.stream(t, 0).payloads(), 4, "nothing forwarded twice")
				ridDead(t, s, 5)
			})
		})
	}
	t.Run("rid=R0-100 → item-not-found, not bad-request (§14.3)", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			x := newTester(t, Config{})
			s := x.create(1000, "")
			r := x.send("<body rid='900' sid='" + s.sid + "' xmlns='" + NS + "'/>")
			assert.True(t, r.IsTerm("item-not-found"), r.Raw)
			ridDead(t, s, 1)
		})
	})
}
