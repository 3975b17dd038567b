package bosh

import (
	"context"
	"net/http"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Conformance tests for XEP-0124 §10 (inactivity and pause), §11
// (overactivity) and §12 (polling sessions). The helpers are in
// conformance_hold_test.go.

// holdUnknownSID is what a request for a session that never existed gets.
func holdUnknownSID(t *testing.T, x *tester) *resp {
	t.Helper()
	return x.send("<body rid='77' sid='nosuchsid' xmlns='" + NS + "'/>")
}

// holdIdleThen answers REQ 1 of a fresh session at its wait, stays idle for
// idle, then posts REQ 2 and reports whether the session was gone (REQ 2
// answered with item-not-found) or alive (REQ 2 held).
func holdIdleThen(t *testing.T, x *tester, s *sess, wait, idle time.Duration) (dead bool, r2 *resp) {
	t.Helper()
	c1 := s.post(1, "", "")
	time.Sleep(wait)
	require.True(t, holdAnswered(t, c1).IsEmpty())
	time.Sleep(idle)
	synctest.Wait() // let a timer due now run first
	c2 := s.post(2, "", "")
	synctest.Wait()
	if !c2.Done() {
		return false, nil
	}
	return true, c2.wait()
}

func TestInactiveSessionIsForgotten(t *testing.T) {
	// (XEP-0124 §10): with every request answered, a session silent
	// for 'inactivity' since the last response ends without telling the
	// client. the next request is answered as for a session that
	// never existed.
	for _, tc := range []struct {
		name   string
		create string
		idle   time.Duration
		dead   bool
	}{
		{"idle inactivity−1ns → alive (§10)", "wait='5'", 30*time.Second - time.Nanosecond, false},
		{"idle exactly inactivity → gone (§10)", "wait='5'", 30 * time.Second, true},
		{"legacy session: answered like an unknown sid (§10)", "wait='5' -ver", 30 * time.Second, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				x := newTester(t, Config{Inactivity: 30 * time.Second})
				s := x.create(1000, tc.create)
				require.Equal(t, "30", s.created.Attr("inactivity"))
				dead, r2 := holdIdleThen(t, x, s, 5*time.Second, tc.idle)
				require.Equal(t, tc.dead, dead)
				if !tc.dead {
					assert.Empty(t, x.up.stream(t, 0).closings())
					return
				}
				assert.True(t, r2.IsTerm("item-not-found"), r2.Raw)
				unknown := holdUnknownSID(t, x)
				assert.Equal(t, unknown.Status, r2.Status, "as if it never existed")
				assert.Equal(t, unknown.Raw, r2.Raw, "as if it never existed")
				cl := x.up.stream(t, 0).closings()
				require.Len(t, cl, 1)
				assert.ErrorIs(t, cl[0].Err, ErrInactive)
			})
		})
	}
}

func TestInactivityNotCountedWhileHeld(t *testing.T) {
	// (XEP-0124 §10): the inactivity clock runs only while no request
	// is held. Each request here is held for wait (30 s) > inactivity
	// (10 s), and the session lives on for 12× inactivity.
	synctest.Test(t, func(t *testing.T) {
		x := newTester(t, Config{Inactivity: 10 * time.Second})
		s := x.create(1000, "wait='30'")
		for n := uint64(1); n <= 4; n++ {
			start := time.Now()
			c := s.post(n, "", "")
			time.Sleep(30 * time.Second)
			r := holdAnswered(t, c)
			require.True(t, r.IsEmpty(), "REQ %d: %s", n, r.Raw)
			assert.Equal(t, 30*time.Second, c.at.Sub(start))
		}
		holdHeld(t, s.post(5, "", ""), "the session is alive after 120 s")
		assert.Empty(t, x.up.stream(t, 0).closings())
	})
}

func TestShortDefaultInactivity(t *testing.T) {
	// (XEP-0124 §10): a non-polling session gets a short inactivity
	// (tens of seconds) by default. The handler always advertises one (so
	// a session without 'inactivity' does not arise).
	x := newTester(t, Config{})
	s := x.create(1000, "")
	assert.Equal(t, "60", s.created.Attr("inactivity"))
}

func TestPauseAnswersHeldRequests(t *testing.T) {
	// (XEP-0124 §10): pause ≤ maxpause answers every held request and
	// the pause request at once, without payloads, and makes the inactivity
	// the pause until the next request. a pause above maxpause is
	// refused with policy-violation.
	for _, tc := range []struct {
		name   string
		create string
		pause  string
		idle   time.Duration // after the pause, before REQ 3
		status int           // REQ 2 gets policy-violation with this HTTP status; 0: accepted
		alive  bool          // REQ 3 finds the session
	}{
		{"pause 30 > inactivity 10: alive at 30s−1ns", "wait='5'", "30", 30*time.Second - time.Nanosecond, 0, true},
		{"pause 30: gone at exactly 30s", "wait='5'", "30", 30 * time.Second, 0, false},
		{"pause = maxpause (120) is allowed", "wait='5'", "120", 120*time.Second - time.Nanosecond, 0, true},
		{"pause above maxpause → policy-violation", "wait='5'", "121", 0, http.StatusOK, false},
		{"legacy: pause above maxpause → HTTP 403", "wait='5' -ver", "121", 0, http.StatusForbidden, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				x := newTester(t, Config{Inactivity: 10 * time.Second})
				s := x.create(1000, tc.create)
				require.Equal(t, "120", s.created.Attr("maxpause"), "maxpause advertised")
				start := time.Now()
				c1 := s.post(1, "", "")
				holdHeld(t, c1)
				c2 := s.post(2, "pause='"+tc.pause+"'", "")
				r2 := holdAnswered(t, c2)
				r1 := holdAnswered(t, c1)
				if tc.status != 0 {
					assert.Equal(t, tc.status, r2.Status)
					assert.Equal(t, "terminate", r2.Type(), r2.Raw)
					assert.Equal(t, "policy-violation", r2.Condition(), r2.Raw)
					assert.Equal(t, "terminate", r1.Type(), "the session ended: %s", r1.Raw)
					return
				}
				assert.True(t, r1.IsEmpty(), r1.Raw)
				assert.True(t, r2.IsEmpty(), r2.Raw)
				assert.Equal(t, start, c1.at, "REQ 1 answered at once")
				assert.Equal(t, start, c2.at, "the pause request answered at once")
				time.Sleep(tc.idle)
				synctest.Wait()
				r3 := s.post(3, "", "")
				if tc.alive {
					holdHeld(t, r3, "REQ 3 is held normally: no item-not-found")
					return
				}
				assert.True(t, holdAnswered(t, r3).IsTerm("item-not-found"))
			})
		})
	}
}

func TestPauseResponseHasNoPayloads(t *testing.T) {
	// (XEP-0124 §10): the response to a pause request carries no
	// payloads; queued data comes with the next request.
	synctest.Test(t, func(t *testing.T) {
		x := newTester(t, Config{})
		s := x.create(1000, "wait='5'")
		holdDeliver(t, x, holdMsg("queued"))
		r1 := holdAnswered(t, s.post(1, "pause='30'", ""))
		assert.True(t, r1.IsEmpty(), "no payloads in the pause response: %s", r1.Raw)
		again := holdAnswered(t, s.post(1, "pause='30'", ""))
		assert.Equal(t, r1.Raw, again.Raw, "§14.3: the pause response is kept for a retransmission")
		start := time.Now()
		c2 := s.post(2, "", "")
		r2 := holdAnswered(t, c2)
		assert.Equal(t, start, c2.at)
		assert.Equal(t, []string{holdMsg("queued")}, r2.Children, "the message comes with REQ 2")
	})
}

func TestInactivityRestoredAfterPause(t *testing.T) {
	// (XEP-0124 §10): the next request after a pause restores the
	// normal inactivity.
	for _, tc := range []struct {
		name string
		idle time.Duration
		dead bool
	}{
		{"idle inactivity−1ns after REQ 3 → alive", 10*time.Second - time.Nanosecond, false},
		{"idle inactivity after REQ 3 → gone, though less than the pause", 10 * time.Second, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				x := newTester(t, Config{Inactivity: 10 * time.Second})
				s := x.create(1000, "wait='5'")
				require.True(t, holdAnswered(t, s.post(1, "pause='100'", "")).IsEmpty())
				time.Sleep(50 * time.Second) // longer than inactivity, within the pause
				c3 := s.post(2, "", "")
				time.Sleep(5 * time.Second)
				require.True(t, holdAnswered(t, c3).IsEmpty(), "REQ after the pause is held for wait")
				time.Sleep(tc.idle)
				synctest.Wait()
				c4 := s.post(3, "", "")
				if !tc.dead {
					holdHeld(t, c4)
					return
				}
				assert.True(t, holdAnswered(t, c4).IsTerm("item-not-found"))
			})
		})
	}
}

func TestShortPauseShortensInactivity(t *testing.T) {
	// (XEP-0124 §10): a pause below the inactivity shortens the
	// timeout.
	for _, tc := range []struct {
		name string
		idle time.Duration
		dead bool
	}{
		{"pause=3, idle 3s−1ns → alive", 3*time.Second - time.Nanosecond, false},
		{"pause=3, idle 3s → gone (inactivity 60)", 3 * time.Second, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				x := newTester(t, Config{})
				s := x.create(1000, "wait='5'")
				require.Equal(t, "60", s.created.Attr("inactivity"))
				require.True(t, holdAnswered(t, s.post(1, "pause='3'", "")).IsEmpty())
				time.Sleep(tc.idle)
				synctest.Wait()
				c2 := s.post(2, "", "")
				if !tc.dead {
					holdHeld(t, c2)
					return
				}
				assert.True(t, holdAnswered(t, c2).IsTerm("item-not-found"))
			})
		})
	}
}

func TestPauseIgnoredWithoutMaxPause(t *testing.T) {
	// (XEP-0124 §10): with Config.NoPause no 'maxpause' is
	// advertised and 'pause' is ignored: the request is a normal one, and
	// the inactivity is unchanged.
	synctest.Test(t, func(t *testing.T) {
		x := newTester(t, Config{NoPause: true, Inactivity: 30 * time.Second})
		s := x.create(1000, "wait='5'")
		_, has := s.created.Attrs["maxpause"]
		require.False(t, has, "no maxpause without pause support")
		start := time.Now()
		c1 := s.post(1, "pause='60'", "")
		time.Sleep(5*time.Second - time.Nanosecond)
		holdHeld(t, c1, "held like a normal request")
		time.Sleep(time.Nanosecond)
		assert.True(t, holdAnswered(t, c1).IsEmpty())
		assert.Equal(t, 5*time.Second, c1.at.Sub(start))
		time.Sleep(30 * time.Second)
		synctest.Wait()
		r2 := holdAnswered(t, s.post(2, "", ""))
		assert.True(t, r2.IsTerm("item-not-found"), "normal inactivity (30 s), not the pause (60 s): %s", r2.Raw)
	})
}

func TestTooManyUnansweredRequests(t *testing.T) {
	// (XEP-0124 §11, Ex. 12): more than 'requests' new requests, none
	// answered (held, and buffered above a gap), the last neither pause nor
	// terminate → policy-violation. Only reachable with hold ≥ 2.
	for _, tc := range []struct {
		name   string
		create string
		status int
	}{
		{"hold=2: REQ 1, 2 held, REQ 4, 5 above a gap → policy-violation", "wait='5' hold='2'", http.StatusOK},
		{"legacy → HTTP 403 (§17.1)", "wait='5' hold='2' -ver", http.StatusForbidden},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				x := newTester(t, Config{MaxHold: 2})
				s := x.create(1000, tc.create)
				require.Equal(t, "3", s.created.Attr("requests"))
				c1, c2 := holdPost(s, 1, "", ""), holdPost(s, 2, "", "")
				c4 := holdPost(s, 4, "", "")
				holdHeld(t, c1)
				holdHeld(t, c2)
				holdHeld(t, c4, "three unanswered is allowed")
				r5 := holdAnswered(t, s.post(5, "", ""))
				assert.Equal(t, tc.status, r5.Status)
				assert.Equal(t, "terminate", r5.Type(), r5.Raw)
				assert.Equal(t, "policy-violation", r5.Condition(), r5.Raw)
				for _, c := range []*call{c1, c2, c4} {
					r := holdAnswered(t, c)
					assert.Equal(t, "policy-violation", r.Condition(), "every open request learns the end: %s", r.Raw)
				}
			})
		})
	}
}

func TestNoFalsePositives(t *testing.T) {
	// (XEP-0124 §11): filling a gap and retransmitting are not
	// overactivity. REQ 2 and 3 carry payloads so that §11's too-frequent
	// rule stays out of the way.
	for _, hold := range []string{"1", "2"} {
		t.Run("REQ 1 held, REQ 3, then REQ 2; hold="+hold, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				x := newTester(t, Config{MaxHold: 2})
				s := x.create(1000, "wait='5' hold='"+hold+"'")
				c1 := s.post(1, "", "")
				holdHeld(t, c1)
				c3 := s.post(3, "", holdMsg("3"))
				holdHeld(t, c3)
				c2 := s.post(2, "", holdMsg("2"))
				synctest.Wait()
				assert.Equal(t, []string{holdMsg("2"), holdMsg("3")}, x.up.stream(t, 0).payloads())
				assert.True(t, holdAnswered(t, c1).IsEmpty(), "REQ 1 released by hold")
				if hold == "1" {
					assert.True(t, holdAnswered(t, c2).IsEmpty(), "REQ 2 released by hold")
				} else {
					holdHeld(t, c2)
				}
				holdHeld(t, c3)
			})
		})
	}
	t.Run("retransmissions are not new requests (§14.3)", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			x := newTester(t, Config{MaxHold: 2})
			s := x.create(1000, "wait='5' hold='2'")
			c1, c2 := holdPost(s, 1, "", ""), holdPost(s, 2, "", "")
			c4 := holdPost(s, 4, "", holdMsg("4"))
			holdHeld(t, c4)
			again4 := holdPost(s, 4, "", holdMsg("4"))
			again1 := holdPost(s, 1, "", "")
			synctest.Wait()
			// A retransmission waits for its rid's reply beside the
			// original (§14.3); neither is answered early.
			for _, c := range []*call{c1, c2, c4, again1, again4} {
				holdHeld(t, c)
			}
			c3 := s.post(3, "", holdMsg("3"))
			synctest.Wait()
			assert.Equal(t, []string{holdMsg("3"), holdMsg("4")}, x.up.stream(t, 0).payloads(), "REQ 4 forwarded once")
			r1 := holdAnswered(t, c1)
			assert.True(t, r1.IsEmpty(), r1.Raw)
			assert.Equal(t, r1.Raw, holdAnswered(t, again1).Raw, "both connections of REQ 1 get its reply")
			assert.True(t, holdAnswered(t, c2).IsEmpty())
			holdHeld(t, c3)
			holdHeld(t, c4)
			holdHeld(t, again4)
		})
	})
}

func TestExtraPauseOrTerminateAllowed(t *testing.T) {
	// (XEP-0124 §11): with 'requests' requests outstanding, one more
	// is allowed if it is a pause or a terminate.
	for _, tc := range []struct{ name, extra string }{
		{"extra type='terminate' → normal termination (§11, §13)", "type='terminate'"},
		{"extra pause → answered, session alive (§11, §10)", "pause='30'"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				x := newTester(t, Config{MaxHold: 2})
				s := x.create(1000, "wait='5' hold='2'")
				c1, c2 := holdPost(s, 1, "", ""), holdPost(s, 2, "", "")
				c4 := holdPost(s, 4, "", holdMsg("4"))
				c5 := holdPost(s, 5, tc.extra, "")
				holdHeld(t, c5, "four outstanding, the fourth pause or terminate: no violation")
				holdHeld(t, c4)
				c3 := s.post(3, "", holdMsg("3"))
				var got []*resp
				for _, c := range []*call{c1, c2, c3, c4, c5} {
					got = append(got, holdAnswered(t, c))
				}
				for i, r := range got {
					assert.NotEqual(t, "policy-violation", r.Condition(), "REQ %d: %s", i+1, r.Raw)
					assert.Empty(t, r.Condition(), "REQ %d: %s", i+1, r.Raw)
				}
				if tc.extra == "type='terminate'" {
					assert.Equal(t, "terminate", got[2].Type(), "the oldest open connection acknowledges (§13)")
					assert.True(t, got[4].IsEmpty(), got[4].Raw)
					cl := x.up.stream(t, 0).closings()
					require.Len(t, cl, 1)
					assert.NoError(t, cl[0].Err)
					return
				}
				for i, r := range got {
					assert.True(t, r.IsEmpty(), "REQ %d: %s", i+1, r.Raw)
				}
				holdHeld(t, s.post(6, "", ""), "the session is alive")
			})
		})
	}
}

func TestTooFrequentRequests(t *testing.T) {
	// (XEP-0124 §11, Ex. 13): N=2, H=1, P=2: an empty REQ 2 less than
	// 'polling' after REQ 1, with REQ 1 unanswered, is policy-violation.
	// without 'polling' (Config.NoPolling) there is no such rule.
	const slow = "slow"
	for _, tc := range []struct {
		name    string
		cfg     Config
		create  string
		gap     time.Duration
		payload string
		before  string // "answered": REQ 1 gets data first; "gone": its client leaves
		status  int    // policy-violation with this HTTP status; 0: no error
	}{
		{"empty REQ 2 0.2s after REQ 1 → policy-violation", Config{}, "", 200 * time.Millisecond, "", "", http.StatusOK},
		{"empty REQ 2 at polling−1ns → policy-violation", Config{}, "", 2*time.Second - time.Nanosecond, "", "", http.StatusOK},
		{"legacy → HTTP 403 (§17.1)", Config{}, "-ver", 200 * time.Millisecond, "", "", http.StatusForbidden},
		{"control: empty REQ 2 at exactly polling → no error", Config{}, "", 2 * time.Second, "", "", 0},
		{"control: REQ 2 with a payload → no error", Config{}, "", 200 * time.Millisecond, holdMsg("x"), "", 0},
		{"control: REQ 1 already answered → no error", Config{}, "", 200 * time.Millisecond, "", "answered", 0},
		{"control: REQ 1's client gone → not counted", Config{}, "", 200 * time.Millisecond, "", "gone", 0},
		{"Config.Polling=5s: REQ 2 at 4s → policy-violation", Config{Polling: 5 * time.Second}, "", 4 * time.Second, "", "", http.StatusOK},
		{"no 'polling' (Config.NoPolling) → no error", Config{NoPolling: true}, "", 200 * time.Millisecond, "", "", 0},
		{"no 'polling', legacy → no error", Config{NoPolling: true}, "-ver", 0, "", "", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				x := newTester(t, tc.cfg)
				s := x.create(1000, "wait='5' "+tc.create)
				_, hasPolling := s.created.Attrs["polling"]
				assert.Equal(t, !tc.cfg.NoPolling, hasPolling, "'polling' advertised unless NoPolling")
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				c1 := holdPostCtx(ctx, s, 1, "", "")
				holdHeld(t, c1)
				switch tc.before {
				case "answered":
					holdDeliver(t, x, holdMsg("to REQ 1"))
					require.Len(t, holdAnswered(t, c1).Children, 1)
				case "gone":
					cancel()
					synctest.Wait()
				}
				time.Sleep(tc.gap)
				c2 := s.post(2, "", tc.payload)
				synctest.Wait()
				if tc.status == 0 {
					holdHeld(t, c2, "REQ 2 is held: no error")
					if tc.before == "" {
						r1 := holdAnswered(t, c1)
						assert.True(t, r1.IsEmpty(), "REQ 1 released by hold: %s", r1.Raw)
					}
					return
				}
				r2 := holdAnswered(t, c2)
				assert.Equal(t, tc.status, r2.Status)
				assert.Equal(t, "terminate", r2.Type(), r2.Raw)
				assert.Equal(t, "policy-violation", r2.Condition(), r2.Raw)
				assert.True(t, holdAnswered(t, s.post(3, "", "")).IsTerm("item-not-found"), "the session is gone")
				cl := x.up.stream(t, 0).closings()
				require.Len(t, cl, 1)
				assert.ErrorIs(t, cl[0].Err, PolicyViolation, "the upstream learns why")
			})
		})
	}
}

func TestOnlyWhenRequestsWouldBeUnanswered(t *testing.T) {
	// (XEP-0124 §11): the too-frequent rule needs 'requests' (N)
	// unanswered requests, the last empty and neither pause nor terminate.
	t.Run("hold=2 (N=3): REQ 2 soon is fine, REQ 3 soon is not", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			x := newTester(t, Config{MaxHold: 2})
			s := x.create(1000, "wait='5' hold='2'")
			c1 := holdPost(s, 1, "", "")
			time.Sleep(100 * time.Millisecond)
			c2 := holdPost(s, 2, "", "")
			holdHeld(t, c1)
			holdHeld(t, c2)
			time.Sleep(100 * time.Millisecond)
			r3 := holdAnswered(t, s.post(3, "", ""))
			assert.True(t, r3.IsTerm("policy-violation"), r3.Raw)
		})
	})
	for _, tc := range []struct{ name, extra string }{
		{"control: REQ 2 is a pause → answered, no error (§10)", "pause='30'"},
		{"control: REQ 2 is a terminate → normal end (§13)", "type='terminate'"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				x := newTester(t, Config{})
				s := x.create(1000, "wait='5'")
				c1 := holdPost(s, 1, "", "")
				time.Sleep(200 * time.Millisecond)
				r2 := holdAnswered(t, s.post(2, tc.extra, ""))
				r1 := holdAnswered(t, c1)
				assert.Empty(t, r1.Condition(), r1.Raw)
				assert.Empty(t, r2.Condition(), r2.Raw)
				if tc.extra == "type='terminate'" {
					assert.Equal(t, "terminate", r1.Type(), "§13: the oldest open connection acknowledges")
					assert.True(t, r2.IsEmpty(), r2.Raw)
					return
				}
				assert.True(t, r1.IsEmpty(), r1.Raw)
				assert.True(t, r2.IsEmpty(), r2.Raw)
			})
		})
	}
}

func TestPollingSessionAnswersAtOnce(t *testing.T) {
	// (XEP-0124 §12, §7.1): wait='0' and/or hold='0' ask for a polling
	// session: each request is answered without being held, empty or with
	// queued data. The handler sets hold='0' when wait='0'.
	for _, tc := range []struct{ name, create, wait, hold string }{
		{"hold='0'", "hold='0'", "45", "0"}, // wait: 60 asked, the default MaxWait
		{"wait='0'", "wait='0'", "0", "0"},
		{"wait='0' hold='0'", "wait='0' hold='0'", "0", "0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				x := newTester(t, Config{})
				s := x.create(1000, tc.create)
				assert.Equal(t, tc.wait, s.created.Attr("wait"))
				assert.Equal(t, tc.hold, s.created.Attr("hold"))
				assert.Equal(t, "1", s.created.Attr("requests"))
				start := time.Now()
				c1 := s.post(1, "", "")
				r1 := holdAnswered(t, c1)
				assert.Equal(t, start, c1.at, "not held")
				assert.True(t, r1.IsEmpty(), r1.Raw)
				time.Sleep(2 * time.Second)
				holdDeliver(t, x, holdMsg("a"), holdMsg("b"))
				c2 := s.post(2, "", "")
				r2 := holdAnswered(t, c2)
				assert.Equal(t, 2*time.Second, c2.at.Sub(start))
				assert.Equal(t, []string{holdMsg("a"), holdMsg("b")}, r2.Children)
			})
		})
	}
}

func TestPollingSessionLongerInactivity(t *testing.T) {
	// (XEP-0124 §12): a polling session's inactivity is higher by more
	// than 'polling': Inactivity + 2×Polling.
	x := newTester(t, Config{})
	normal := x.create(1000, "")
	polling := x.create(2000, "hold='0'")
	require.Equal(t, "60", normal.created.Attr("inactivity"))
	require.Equal(t, "2", polling.created.Attr("polling"))
	assert.Equal(t, "64", polling.created.Attr("inactivity"), "60 + 2×2")
	for _, tc := range []struct {
		name string
		idle time.Duration
		dead bool
	}{
		{"polling session idle 64s−1ns → alive", 64*time.Second - time.Nanosecond, false},
		{"polling session idle 64s → gone", 64 * time.Second, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				x := newTester(t, Config{})
				s := x.create(1000, "hold='0'")
				require.True(t, holdAnswered(t, s.post(1, "", "")).IsEmpty())
				time.Sleep(tc.idle)
				synctest.Wait()
				r2 := holdAnswered(t, s.post(2, "", ""))
				if tc.dead {
					assert.True(t, r2.IsTerm("item-not-found"), r2.Raw)
				} else {
					assert.True(t, r2.IsEmpty(), r2.Raw)
				}
			})
		})
	}
}

func TestRequestsOneOnlyForPolling(t *testing.T) {
	// (XEP-0124 §12): the handler never forces polling: 'requests' is
	// hold+1, so requests='1' only in a polling session (which then behaves
	// as tests).
	for _, tc := range []struct {
		name, create, requests string
		cfg                    Config
	}{
		{"hold=1 → requests=2", "", "2", Config{}},
		{"hold=2 → requests=3", "hold='2'", "3", Config{MaxHold: 2}},
		{"hold=5 capped to MaxHold=1 → requests=2", "hold='5'", "2", Config{}},
		{"hold=0 (polling) → requests=1", "hold='0'", "1", Config{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			x := newTester(t, tc.cfg)
			assert.Equal(t, tc.requests, x.create(1000, tc.create).created.Attr("requests"))
		})
	}
}

func TestPollingTooFrequent(t *testing.T) {
	// (XEP-0124 §12, Ex. 14): in a polling session, two empty new
	// requests less than 'polling' apart, the first answered without
	// payloads → policy-violation on the second. no 'polling'
	// (Config.NoPolling) → any frequency.
	for _, tc := range []struct {
		name    string
		cfg     Config
		create  string
		gap     time.Duration
		payload string
		resend  bool // REQ 1 resent at gap/2
		data    bool // REQ 1's response carries a payload
		status  int  // policy-violation with this status; 0: no error
	}{
		{"empty REQ 2 at once → policy-violation", Config{}, "hold='0'", 0, "", false, false, http.StatusOK},
		{"empty REQ 2 at polling−1ns → policy-violation", Config{}, "hold='0'", 2*time.Second - time.Nanosecond, "", false, false, http.StatusOK},
		{"wait='0' session → policy-violation", Config{}, "wait='0'", time.Second, "", false, false, http.StatusOK},
		{"legacy → HTTP 403 (§17.1)", Config{}, "hold='0' -ver", 0, "", false, false, http.StatusForbidden},
		{"control: REQ 2 at polling → no error", Config{}, "hold='0'", 2 * time.Second, "", false, false, 0},
		{"control: REQ 2 with a payload → no error", Config{}, "hold='0'", 0, holdMsg("x"), false, false, 0},
		{"control: REQ 1 resent is not counted", Config{}, "hold='0'", 2 * time.Second, "", true, false, 0},
		{"control: REQ 1's response carried a payload → no error", Config{}, "hold='0'", 0, "", false, true, 0},
		{"no 'polling' (Config.NoPolling) → no error", Config{NoPolling: true}, "hold='0'", 0, "", false, false, 0},
		{"no 'polling', wait='0' → no error", Config{NoPolling: true}, "wait='0'", 0, "", false, false, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				x := newTester(t, tc.cfg)
				s := x.create(1000, tc.create)
				_, hasPolling := s.created.Attrs["polling"]
				assert.Equal(t, !tc.cfg.NoPolling, hasPolling)
				if tc.data {
					holdDeliver(t, x, holdMsg("features"))
				}
				r1 := holdAnswered(t, s.post(1, "", ""))
				require.Equal(t, tc.data, len(r1.Children) > 0, r1.Raw)
				if tc.resend {
					time.Sleep(tc.gap / 2)
					again := holdAnswered(t, s.post(1, "", ""))
					assert.Equal(t, r1.Raw, again.Raw, "the cached response")
					time.Sleep(tc.gap - tc.gap/2)
				} else {
					time.Sleep(tc.gap)
				}
				start := time.Now()
				c2 := s.post(2, "", tc.payload)
				r2 := holdAnswered(t, c2)
				assert.Equal(t, start, c2.at, "answered at once")
				if tc.status == 0 {
					assert.True(t, r2.IsEmpty(), r2.Raw)
					return
				}
				assert.Equal(t, tc.status, r2.Status)
				assert.Equal(t, "terminate", r2.Type(), r2.Raw)
				assert.Equal(t, "policy-violation", r2.Condition(), r2.Raw)
				cl := x.up.stream(t, 0).closings()
				require.Len(t, cl, 1)
				assert.ErrorIs(t, cl[0].Err, PolicyViolation, "the upstream learns why")
			})
		})
	}
}
