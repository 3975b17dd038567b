package bosh

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Config.GapTimeout: requests above a rid gap (§14.2) wait GapTimeout for
// the missing rid, then the session gives it up and goes on — the case of
// a browser page reloaded after Strophe.js numbered a request it never
// sent. A given-up rid arriving later was only delayed in the network (a
// load balancer redispatched it to a node whose forward stalled): it is
// processed late, its stanzas after those of the requests that overtook
// it, and answered at once; with keys its key cannot be checked (§15), and
// it gets item-not-found (§14.3) without forwarding anything.
func TestGapGivenUpAfterGapTimeout(t *testing.T) {
	cases := []struct {
		name string
		keys bool
	}{
		{name: "without keys"},
		{name: "with keys: the next key is checked across the given-up one (§15)", keys: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				x := newTester(t, Config{GapTimeout: 3 * time.Second})
				k := ridKeys("seed", 5, false)
				create, key := "", func(uint64) string { return "" }
				if tc.keys {
					create = "newkey='" + k[5] + "'"
					key = func(n uint64) string { return "key='" + k[5-n] + "'" }
				}
				s := x.create(1000, create+" wait='30'")
				start := time.Now()
				c2 := s.post(2, key(2), ridMsgA)
				synctest.Wait()
				time.Sleep(3*time.Second - time.Millisecond)
				synctest.Wait()
				st := x.up.stream(t, 0)
				assert.Empty(t, st.payloads(), "REQ 2 still waits for REQ 1 within GapTimeout")
				time.Sleep(time.Millisecond)
				synctest.Wait()
				assert.Equal(t, []string{ridMsgA}, st.payloads(), "after GapTimeout REQ 1 is given up and REQ 2 processed")
				assert.False(t, c2.Done(), "REQ 2 is held like any processed request (§8)")
				holdDeliver(t, x, holdMsg("after the gap"))
				r2 := holdAnswered(t, c2)
				assert.Equal(t, []string{holdMsg("after the gap")}, r2.Children)
				assert.Equal(t, 3*time.Second, c2.at.Sub(start))

				c3 := s.post(3, key(3), ridMsgB)
				synctest.Wait()
				assert.False(t, c3.Done(), "REQ 3 is held: the session goes on")
				assert.Equal(t, []string{ridMsgA, ridMsgB}, st.payloads())

				r1 := s.send(1, key(1), ridMsgC)
				if tc.keys {
					assert.True(t, r1.IsTerm("item-not-found"), "a given-up rid with a key no longer checkable has no response to resend (§14.3): %s", r1.Raw)
					assert.Equal(t, []string{ridMsgA, ridMsgB}, st.payloads(), "its payloads are not forwarded")
					return
				}
				assert.True(t, r1.IsEmpty(), "the late rid is answered at once: %s", r1.Raw)
				assert.Equal(t, "1003", r1.Attr("ack"), "§9.1: the highest rid taken in order (REQ 3)")
				assert.Equal(t, []string{ridMsgA, ridMsgB, ridMsgC}, st.payloads(), "its payloads go upstream late, not lost")
				assert.False(t, c3.Done(), "the session goes on; REQ 3 is still held")
				again := s.send(1, key(1), ridMsgC)
				assert.Equal(t, r1.Raw, again.Raw, "a copy of the late rid gets the same reply (§14.3)")
				assert.Equal(t, []string{ridMsgA, ridMsgB, ridMsgC}, st.payloads(), "and forwards nothing again")
				assert.Equal(t, uint64(1), x.h.Stats().Late)
				holdDeliver(t, x, holdMsg("still on"))
				assert.Equal(t, []string{holdMsg("still on")}, holdAnswered(t, c3).Children)
			})
		})
	}
}

// Without a gap, GapTimeout changes nothing: a held request is answered
// after 'wait' as always (§8).
func TestGapTimeoutWithoutGap(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		x := newTester(t, Config{GapTimeout: time.Second})
		s := x.create(1000, "wait='5'")
		start := time.Now()
		c1 := s.post(1, "", "")
		synctest.Wait()
		time.Sleep(5 * time.Second)
		r := holdAnswered(t, c1)
		require.True(t, r.IsEmpty(), r.Raw)
		assert.Equal(t, 5*time.Second, c1.at.Sub(start))
	})
}

// A rid above the window that arrives while a request waits above a gap
// gives the missing rid up at once when that puts it inside the window:
// converse.js after a page reload that lost a numbered request. With
// StrictWindow the session ends instead (§14.2, TestB80WindowAnchorsOnLastInOrderRid).
func TestGapGivenUpByRidAboveWindow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		x := newTester(t, Config{})
		s := x.create(1000, "wait='30'")
		require.Equal(t, "2", s.created.Attr("requests"))
		c2 := s.post(2, "", ridMsgA)
		synctest.Wait()
		st := x.up.stream(t, 0)
		require.Empty(t, st.payloads(), "REQ 2 waits for REQ 1")
		c3 := s.post(3, "", ridMsgB)
		synctest.Wait()
		assert.Equal(t, []string{ridMsgA, ridMsgB}, st.payloads(), "REQ 1 given up: REQ 2 and REQ 3 processed in order")
		r2 := holdAnswered(t, c2)
		assert.True(t, r2.IsEmpty(), "REQ 2 is answered when REQ 3 takes the held place (hold=1): %s", r2.Raw)
		assert.False(t, c3.Done())
		r6 := s.send(6, "", "")
		assert.True(t, r6.IsTerm("item-not-found"), "a rid above the window with no gap still ends the session (§14.2): %s", r6.Raw)
	})
}

// A copy of a late rid (TestGapGivenUpAfterGapTimeout) that arrives while
// the late request is being forwarded waits for its reply (§14.3); it is
// neither forwarded again nor answered item-not-found.
func TestGapLateRidCopyWhileForwarded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		x := newTester(t, Config{GapTimeout: 3 * time.Second})
		s := x.create(1000, "wait='30'")
		c2 := s.post(2, "", ridMsgA)
		synctest.Wait()
		time.Sleep(3 * time.Second) // REQ 1 given up, REQ 2 held
		synctest.Wait()
		st := x.up.stream(t, 0)
		require.Equal(t, []string{ridMsgA}, st.payloads())
		x.up.gate = make(chan struct{})
		late := s.post(1, "", ridMsgB)
		synctest.Wait() // blocked in Send
		again := s.post(1, "", ridMsgB)
		time.Sleep(time.Second) // longer than a stale rid waits for its client
		synctest.Wait()
		assert.False(t, again.Done(), "the copy waits for the late request's reply")
		close(x.up.gate)
		synctest.Wait()
		r := holdAnswered(t, late)
		assert.True(t, r.IsEmpty(), r.Raw)
		assert.Equal(t, r.Raw, holdAnswered(t, again).Raw)
		assert.Equal(t, []string{ridMsgA, ridMsgB}, st.payloads(), "forwarded once")
		assert.False(t, c2.Done(), "REQ 2 is still held")
		assert.Equal(t, int64(1), x.h.Stats().Sessions, "the session lives")
	})
}
