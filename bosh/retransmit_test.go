package bosh

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The tests in this file put a retransmission (XEP-0124 §14.3: the same
// rid, byte for byte, on a new connection) into each state its request can
// be in when the retransmission arrives: being forwarded upstream, held,
// buffered above a rid gap, and answered. In each, the client's
// connections break the way networks break them: before the server reads
// a request (it arrives with its client already gone), while the server
// forwards it, and while the server holds it. The session must survive,
// forward each payload once, and hand every reply to a connection the
// client still reads.

func TestRetransmissionWhileForwarding(t *testing.T) {
	// §14.3: a rid "already received but not yet responded to" is being
	// forwarded; the retransmission waits for its reply, never
	// item-not-found.
	for _, tc := range []struct {
		name    string
		cutOrig bool // the original's client went away while forwarding
	}{
		{"original still open: both connections get the reply", false},
		{"original cut while forwarding: the retransmission gets the reply", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				x := newTester(t, Config{})
				s := x.create(1000, "")
				x.up.gate = make(chan struct{})
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				orig := holdPostCtx(ctx, s, 1, "", holdMsg("once"))
				synctest.Wait() // blocked in Send
				if tc.cutOrig {
					cancel()
				}
				again := holdPost(s, 1, "", holdMsg("once"))
				assert.False(t, again.Done(), "the retransmission waits for the reply")
				close(x.up.gate)
				synctest.Wait()
				assert.Equal(t, []string{holdMsg("once")}, x.up.stream(t, 0).payloads(), "forwarded once")
				holdDeliver(t, x, holdMsg("back"))
				r := holdAnswered(t, again)
				assert.Equal(t, []string{holdMsg("back")}, r.Children, r.Raw)
				if !tc.cutOrig {
					assert.Equal(t, r.Raw, holdAnswered(t, orig).Raw)
				}
				assert.Equal(t, r.Raw, s.send(1, "", holdMsg("once")).Raw, "replayed from the cache (§14.3)")
				assert.Equal(t, int64(1), x.h.Stats().Sessions, "the session lives")
			})
		})
	}
}

func TestRetransmissionWhileHeld(t *testing.T) {
	// §14.3, §8: a held request and a retransmission of its rid.
	t.Run("a late copy whose client is gone does not displace the live request", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			x := newTester(t, Config{})
			s := x.create(1000, "")
			live := holdPost(s, 1, "", "")
			holdHeld(t, live)
			ctx, cancel := context.WithCancel(context.Background())
			cancel() // it sat in the network until its client gave up
			late := holdPostCtx(ctx, s, 1, "", "")
			synctest.Wait()
			require.True(t, late.Done())
			assert.Zero(t, late.rec.Body.Len(), "nothing for a gone client")
			holdHeld(t, live, "the live request is not answered early")
			holdDeliver(t, x, holdMsg("kept"))
			r := holdAnswered(t, live)
			assert.Equal(t, []string{holdMsg("kept")}, r.Children, r.Raw)
			assert.Empty(t, r.Type(), r.Raw)
		})
	})
	for _, tc := range []struct {
		name         string
		deliverFirst bool // the data arrives between the cut and the resend
	}{
		{"cut while held, data arrives, then the resend: the resend takes it at once", true},
		{"cut while held, then resent: the resend takes the data", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				x := newTester(t, Config{})
				s := x.create(1000, "")
				cutWhileHeld(t, s, 1)
				if tc.deliverFirst {
					holdDeliver(t, x, holdMsg("kept")) // a gone request takes no payloads (§14.3)
				}
				again := holdPost(s, 1, "", "")
				if !tc.deliverFirst {
					holdHeld(t, again)
					holdDeliver(t, x, holdMsg("kept"))
				}
				r := holdAnswered(t, again) // not after 'wait'
				assert.Equal(t, []string{holdMsg("kept")}, r.Children, r.Raw)
			})
		})
	}
}

// cutWhileHeld posts an empty request rid, waits until it is held, and
// cuts its client's connection (its context ends).
func cutWhileHeld(t *testing.T, s *sess, rid uint64) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	orig := holdPostCtx(ctx, s, rid, "", "")
	holdHeld(t, orig)
	cancel()
	synctest.Wait()
}

func TestRetransmissionWhileBuffered(t *testing.T) {
	// §14.2, §14.3: REQ 2 waits above a gap; a copy of it whose client is
	// already gone arrives. REQ 2 keeps its place and its connection.
	synctest.Test(t, func(t *testing.T) {
		x := newTester(t, Config{})
		s := x.create(1000, "")
		two := holdPost(s, 2, "", holdMsg("2"))
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		late := holdPostCtx(ctx, s, 2, "", holdMsg("2"))
		synctest.Wait()
		require.True(t, late.Done())
		holdHeld(t, two, "REQ 2 is not answered early")
		one := holdPost(s, 1, "", holdMsg("1"))
		assert.True(t, holdAnswered(t, one).IsEmpty(), "REQ 1 released by REQ 2 (hold=1)")
		assert.Equal(t, []string{holdMsg("1"), holdMsg("2")}, x.up.stream(t, 0).payloads(), "in rid order, once each")
		holdHeld(t, two)
		holdDeliver(t, x, holdMsg("back"))
		r := holdAnswered(t, two)
		assert.Equal(t, []string{holdMsg("back")}, r.Children, r.Raw)
	})
}

func TestRetransmissionAfterAnswer(t *testing.T) {
	// §14.3: a request answered while no connection waited for it (its
	// client was cut while it was held) keeps its reply for the client's
	// resend even after 'requests' newer replies, so the resend finds it
	// instead of item-not-found. Without acks (§9.2) nothing tells the
	// session which replies the client got: replies are kept for
	// 2×wait+10s beyond the last 'requests'.
	synctest.Test(t, func(t *testing.T) {
		x := newTester(t, Config{})
		s := x.create(1000, "")
		cutWhileHeld(t, s, 1)
		// The client goes on with its other request while it resends REQ 1
		// (never more than 'requests' unanswered): REQ 2 releases REQ 1
		// (hold=1), REQ 3 releases REQ 2, REQ 4 releases REQ 3.
		prev := holdPost(s, 2, "", holdMsg("2"))
		for n := uint64(3); n <= 4; n++ {
			next := holdPost(s, n, "", holdMsg("m")) // not empty: §11 would count it
			assert.True(t, holdAnswered(t, prev).IsEmpty())
			prev = next
		}
		r := s.send(1, "", "")
		assert.True(t, r.IsEmpty(), "REQ 1's reply, replayed: %s", r.Raw)
		assert.Equal(t, int64(1), x.h.Stats().Sessions, "the session lives")
	})
}

func TestRetransmissionNoLongerBuffered(t *testing.T) {
	// §14.3: a rid whose reply is no longer kept gets item-not-found, which
	// ends the session, if its client is still connected 250ms later. A
	// copy the network delivered late on a connection its client had
	// already closed (the client resent and got the reply meanwhile) is
	// not the client asking: it changes nothing.
	for _, tc := range []struct {
		name string
		gone bool
	}{
		{"client connected: item-not-found", false},
		{"late copy, client gone: nothing happens", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				x := newTester(t, Config{})
				x.up.echo = true
				s := x.create(1000, "ack='1'")
				for n := uint64(1); n <= 3; n++ {
					s.send(n, "", holdMsg("m")) // no 'ack': acknowledges the earlier replies (§9.2)
				}
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				if tc.gone {
					cancel()
				}
				start := time.Now()
				late := holdPostCtx(ctx, s, 1, "", holdMsg("m"))
				synctest.Wait()
				if tc.gone {
					require.True(t, late.Done())
					assert.Zero(t, late.rec.Body.Len(), "nothing for a gone client")
					assert.Equal(t, int64(1), x.h.Stats().Sessions, "the session lives")
					r := s.send(4, "", holdMsg("after"))
					assert.Equal(t, []string{holdMsg("after")}, r.Children, r.Raw)
					return
				}
				r := late.wait()
				assert.True(t, r.IsTerm("item-not-found"), r.Raw)
				assert.Equal(t, 250*time.Millisecond, late.at.Sub(start), "after the grace")
				assert.Zero(t, x.h.Stats().Sessions)
			})
		})
	}
}
