package bosh

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Conformance tests for XEP-0124 §8 (payloads, hold and wait) and §9
// (acknowledgements). Every timing rule runs in a synctest bubble and is
// checked to the nanosecond. The helpers of this file and of
// conformance_pause_polling_test.go start with "hold".

// holdMsg is a message stanza carrying text.
func holdMsg(text string) string {
	return "<message to='a@example.com' xmlns='jabber:client'><body>" + text + "</body></message>"
}

// holdRID is the rid of request n of s, as written on the wire.
func holdRID(s *sess, n uint64) string { return strconv.FormatUint(s.rid+n, 10) }

// holdAnswered returns c's response after checking that it has been
// answered: call.wait on a held request would advance the bubble's clock.
func holdAnswered(t *testing.T, c *call) *resp {
	t.Helper()
	synctest.Wait()
	require.True(t, c.Done(), "the request was not answered")
	return c.wait()
}

// holdHeld asserts that c has not been answered yet.
func holdHeld(t *testing.T, c *call, msgAndArgs ...any) bool {
	t.Helper()
	synctest.Wait()
	return assert.False(t, c.Done(), msgAndArgs...)
}

// holdPost posts request n of s and lets the handler process it before it
// returns, so that consecutive posts arrive in order.
func holdPost(s *sess, n uint64, extra, payload string) *call {
	c := s.post(n, extra, payload)
	synctest.Wait()
	return c
}

// holdPostCtx posts request n of s with ctx as the request's context, so
// that cancelling ctx is the client going away.
func holdPostCtx(ctx context.Context, s *sess, n uint64, extra, payload string) *call {
	r := httptest.NewRequest(http.MethodPost, "/http-bind", strings.NewReader(s.body(n, extra, payload)))
	return s.x.do(r.WithContext(ctx))
}

// holdDeliver pushes stanzas from the upstream of the first stream.
func holdDeliver(t *testing.T, x *tester, stanzas ...string) {
	t.Helper()
	ps := make([][]byte, len(stanzas))
	for i, s := range stanzas {
		ps[i] = []byte(s)
	}
	require.True(t, x.up.stream(t, 0).sink.Deliver(ps...), "the session has ended")
}

func TestPayloadForwardedWhileOthersHeld(t *testing.T) {
	// (XEP-0124 §8): payloads go upstream as soon as they arrive, even
	// while another request is held and the carrying request is held too.
	synctest.Test(t, func(t *testing.T) {
		x := newTester(t, Config{})
		s := x.create(1000, "wait='5'")
		c1 := s.post(1, "", "")
		holdHeld(t, c1, "REQ 1 is held")
		c2 := s.post(2, "", holdMsg("x"))
		synctest.Wait()
		assert.Equal(t, []string{holdMsg("x")}, x.up.stream(t, 0).payloads(), "forwarded at once")
		assert.False(t, c2.Done(), "REQ 2 is held: forwarding does not wait for its answer")
		r1 := holdAnswered(t, c1)
		assert.True(t, r1.IsEmpty(), "hold=1, REQ 1 released by REQ 2: %s", r1.Raw)
	})
}

func TestPayloadsForwardedInRIDOrder(t *testing.T) {
	// (XEP-0124 §8, §14.2): REQ 2 arrives before REQ 1; the upstream
	// sees REQ 1's payload first.
	synctest.Test(t, func(t *testing.T) {
		x := newTester(t, Config{})
		s := x.create(1000, "wait='5'")
		c2 := s.post(2, "", holdMsg("B"))
		synctest.Wait()
		assert.Empty(t, x.up.stream(t, 0).payloads(), "REQ 2 waits for the gap to be filled")
		assert.False(t, c2.Done())
		c1 := s.post(1, "", holdMsg("A"))
		synctest.Wait()
		assert.Equal(t, []string{holdMsg("A"), holdMsg("B")}, x.up.stream(t, 0).payloads())
		r1 := holdAnswered(t, c1)
		assert.True(t, r1.IsEmpty(), r1.Raw)
		holdHeld(t, c2, "REQ 2 is the one held (hold=1)")
	})
}

func TestEveryRequestGets200AndBody(t *testing.T) {
	// (XEP-0124 §8): every valid request of a session is answered with
	// HTTP 200 and one <body/> (parseResp checks the body), whatever kind of
	// request it is.
	synctest.Test(t, func(t *testing.T) {
		x := newTester(t, Config{})
		s := x.create(1000, "wait='5'")
		start := time.Now()
		var got []*resp
		c1 := s.post(1, "", holdMsg("payload"))
		time.Sleep(2 * time.Second) // one polling interval: no §11 violation
		c2 := s.post(2, "", "")
		got = append(got, holdAnswered(t, c1))
		time.Sleep(5 * time.Second)
		got = append(got, holdAnswered(t, c2))
		assert.Equal(t, 7*time.Second, c2.at.Sub(start))
		got = append(got, holdAnswered(t, s.post(3, "pause='10'", "")))
		got = append(got, holdAnswered(t, s.post(3, "pause='10'", ""))) // a retransmission
		got = append(got, holdAnswered(t, s.post(4, "type='terminate'", "<presence type='unavailable' xmlns='jabber:client'/>")))
		for i, r := range append([]*resp{s.created}, got...) {
			assert.Equal(t, http.StatusOK, r.Status, "response %d: %s", i, r.Raw)
			assert.Equal(t, "text/xml; charset=utf-8", r.Header.Get("Content-Type"), "response %d", i)
			assert.NotEqual(t, "error", r.Type(), "response %d: %s", i, r.Raw)
		}
		assert.Equal(t, "terminate", got[len(got)-1].Type())
		assert.Empty(t, got[len(got)-1].Condition(), "a normal termination has no condition")
	})
}

func TestEmptyRequestHeldExactlyWait(t *testing.T) {
	// (§8): with no traffic the request is held; not longer than
	// 'wait'; then answered with an empty body (Ex. 5).
	for _, wait := range []int{1, 5, 45} { // 45: the default MaxWait
		t.Run("wait="+strconv.Itoa(wait), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				x := newTester(t, Config{})
				s := x.create(1000, "wait='"+strconv.Itoa(wait)+"'")
				require.Equal(t, strconv.Itoa(wait), s.created.Attr("wait"))
				W := time.Duration(wait) * time.Second
				start := time.Now()
				c := s.post(1, "", "")
				time.Sleep(W - time.Nanosecond)
				holdHeld(t, c, "held until wait")
				time.Sleep(time.Nanosecond)
				r := holdAnswered(t, c)
				assert.Equal(t, W, c.at.Sub(start), "answered exactly at wait")
				assert.True(t, r.IsEmpty(), "empty body: %s", r.Raw)
			})
		})
	}
}

func TestHoldReleasesOldest(t *testing.T) {
	// (XEP-0124 §8, §4): no more than 'hold' requests wait; a new one
	// makes the handler answer the oldest at once.
	t.Run("hold=1 (XEP-0124 §8)", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			x := newTester(t, Config{})
			s := x.create(1000, "wait='5'")
			start := time.Now()
			c1 := s.post(1, "", "")
			time.Sleep(2 * time.Second)
			holdHeld(t, c1)
			c2 := s.post(2, "", "")
			r1 := holdAnswered(t, c1)
			assert.True(t, r1.IsEmpty(), r1.Raw)
			assert.Equal(t, 2*time.Second, c1.at.Sub(start), "REQ 1 answered when REQ 2 arrived")
			time.Sleep(5*time.Second - time.Nanosecond)
			holdHeld(t, c2, "REQ 2 held for its own wait")
			time.Sleep(time.Nanosecond)
			r2 := holdAnswered(t, c2)
			assert.True(t, r2.IsEmpty(), r2.Raw)
			assert.Equal(t, 7*time.Second, c2.at.Sub(start))
		})
	})
	t.Run("hold=2 (XEP-0124 §8)", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			x := newTester(t, Config{MaxHold: 2})
			s := x.create(1000, "wait='5' hold='2'")
			require.Equal(t, "2", s.created.Attr("hold"))
			require.Equal(t, "3", s.created.Attr("requests"))
			start := time.Now()
			c1 := s.post(1, "", "")
			c2 := s.post(2, "", "")
			holdHeld(t, c1, "two requests may be held")
			holdHeld(t, c2, "two requests may be held")
			time.Sleep(2 * time.Second)
			c3 := s.post(3, "", "")
			r1 := holdAnswered(t, c1)
			assert.True(t, r1.IsEmpty(), r1.Raw)
			assert.Equal(t, 2*time.Second, c1.at.Sub(start))
			holdHeld(t, c2, "REQ 2 stays held")
			holdHeld(t, c3, "REQ 3 stays held")
			time.Sleep(3 * time.Second)
			assert.True(t, holdAnswered(t, c2).IsEmpty())
			assert.Equal(t, 5*time.Second, c2.at.Sub(start))
			holdHeld(t, c3, "REQ 3 waits until 2s+wait")
		})
	})
}

func TestPushGoesToLowestRID(t *testing.T) {
	// (XEP-0124 §8, §14.2): with two requests held, pushed data goes to
	// the lower rid, and the higher one is never answered first.
	synctest.Test(t, func(t *testing.T) {
		x := newTester(t, Config{MaxHold: 2})
		s := x.create(1000, "wait='5' hold='2'")
		start := time.Now()
		c1 := s.post(1, "", "")
		synctest.Wait()
		time.Sleep(time.Second)
		c2 := s.post(2, "", "")
		time.Sleep(time.Second)
		holdHeld(t, c1)
		holdHeld(t, c2)
		holdDeliver(t, x, holdMsg("first"))
		r1 := holdAnswered(t, c1)
		assert.Equal(t, []string{holdMsg("first")}, r1.Children, "the push lands on REQ 1")
		assert.Equal(t, 2*time.Second, c1.at.Sub(start))
		holdHeld(t, c2, "REQ 2 is not answered with REQ 1")
		holdDeliver(t, x, holdMsg("second"))
		r2 := holdAnswered(t, c2)
		assert.Equal(t, []string{holdMsg("second")}, r2.Children)
		assert.False(t, c2.at.Before(c1.at))
	})
	t.Run("REQ 2 above a gap is not answered before REQ 1 (§14.2)", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			x := newTester(t, Config{MaxHold: 2, StrictWindow: true})
			s := x.create(1000, "wait='5' hold='2'")
			start := time.Now()
			c2 := s.post(2, "", "")
			synctest.Wait()
			holdDeliver(t, x, holdMsg("queued"))
			time.Sleep(5 * time.Second)
			holdHeld(t, c2, "REQ 2 is not answered, not even after wait, while REQ 1 is missing")
			c1 := s.post(1, "", "")
			r1 := holdAnswered(t, c1)
			assert.Equal(t, []string{holdMsg("queued")}, r1.Children, "the queued data goes to REQ 1")
			holdHeld(t, c2)
			time.Sleep(5 * time.Second)
			r2 := holdAnswered(t, c2)
			assert.True(t, r2.IsEmpty(), r2.Raw)
			assert.Equal(t, 10*time.Second, c2.at.Sub(start), "REQ 2's wait counts from when it was processed")
		})
	})
}

func TestPushedPayloadsBatchedInOrder(t *testing.T) {
	// (XEP-0124 §8, Ex. 6): server payloads go out at once; what is
	// queued goes out together, in order.
	t.Run("three stanzas in one push", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			x := newTester(t, Config{})
			s := x.create(1000, "wait='5'")
			start := time.Now()
			c1 := s.post(1, "", "")
			time.Sleep(time.Second)
			holdHeld(t, c1)
			holdDeliver(t, x, holdMsg("1"), holdMsg("2"), holdMsg("3"))
			r1 := holdAnswered(t, c1)
			assert.Equal(t, []string{holdMsg("1"), holdMsg("2"), holdMsg("3")}, r1.Children)
			assert.Equal(t, time.Second, c1.at.Sub(start), "answered as soon as the data came")
		})
	})
	t.Run("three pushes: the first answers REQ 1, the rest wait for REQ 2", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			x := newTester(t, Config{})
			s := x.create(1000, "wait='5'")
			start := time.Now()
			c1 := s.post(1, "", "")
			holdHeld(t, c1)
			holdDeliver(t, x, holdMsg("1"))
			holdDeliver(t, x, holdMsg("2"))
			holdDeliver(t, x, holdMsg("3"))
			r1 := holdAnswered(t, c1)
			c2 := s.post(2, "", "")
			r2 := holdAnswered(t, c2)
			assert.Equal(t, start, c2.at, "REQ 2 answered at once with the rest")
			assert.Equal(t, []string{holdMsg("1"), holdMsg("2"), holdMsg("3")}, append(r1.Children, r2.Children...), "order preserved, nothing lost")
			assert.NotEmpty(t, r1.Children)
		})
	})
}

func TestQueuedDataAnsweredAtOnce(t *testing.T) {
	// (XEP-0124 §4, §8): data pushed while no request is open answers
	// the next request immediately.
	synctest.Test(t, func(t *testing.T) {
		x := newTester(t, Config{})
		s := x.create(1000, "wait='5'")
		time.Sleep(3 * time.Second)
		holdDeliver(t, x, holdMsg("early"))
		time.Sleep(time.Second)
		start := time.Now()
		c1 := s.post(1, "", "")
		r1 := holdAnswered(t, c1)
		assert.Equal(t, start, c1.at)
		assert.Equal(t, []string{holdMsg("early")}, r1.Children)
		assert.Empty(t, r1.Type())
	})
}

func TestPayloadRequestHeldLikeEmptyOne(t *testing.T) {
	// (XEP-0124 §8): a request with payloads is held exactly like an
	// empty poll (the rows cover the empty one).
	synctest.Test(t, func(t *testing.T) {
		x := newTester(t, Config{})
		s := x.create(1000, "wait='5'")
		start := time.Now()
		c := s.post(1, "", holdMsg("hi"))
		time.Sleep(5*time.Second - time.Nanosecond)
		holdHeld(t, c, "a payload request is held too")
		time.Sleep(time.Nanosecond)
		r := holdAnswered(t, c)
		assert.True(t, r.IsEmpty(), r.Raw)
		assert.Equal(t, 5*time.Second, c.at.Sub(start))
		assert.Equal(t, []string{holdMsg("hi")}, x.up.stream(t, 0).payloads())
	})
}

func TestHeldRequestOfGoneClientTakesNoPayloads(t *testing.T) {
	// DESIGN "nothing is dropped": a held request whose client went away is
	// never given payloads; they stay queued for the next live request, and
	// the gone request's rid, retransmitted, gets its (empty) cached reply
	// (XEP-0124 §14.3).
	for _, tc := range []struct {
		name  string
		delay time.Duration // before REQ 2
		ackR2 bool          // REQ 1's cached reply carries ack=R2
	}{
		{"released by the next request", 0, true},
		{"released by its wait running out", 5 * time.Second, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				x := newTester(t, Config{})
				s := x.create(1000, "wait='5'")
				ctx, cancel := context.WithCancel(context.Background())
				c1 := holdPostCtx(ctx, s, 1, "", "")
				holdHeld(t, c1)
				cancel()
				synctest.Wait()
				require.True(t, c1.Done(), "the handler returns when the client goes away")
				assert.Zero(t, c1.rec.Body.Len(), "nothing is written to a gone client")
				holdDeliver(t, x, holdMsg("kept"))
				time.Sleep(tc.delay)
				start := time.Now()
				c2 := s.post(2, "", "")
				r2 := holdAnswered(t, c2)
				assert.Equal(t, start, c2.at, "the next live request takes the queued data at once")
				assert.Equal(t, []string{holdMsg("kept")}, r2.Children)
				r1 := holdAnswered(t, s.post(1, "", ""))
				assert.Empty(t, r1.Children, "the retransmission gets REQ 1's empty reply: %s", r1.Raw)
				assert.Empty(t, r1.Type(), r1.Raw)
				if tc.ackR2 {
					assert.Equal(t, holdRID(s, 2), r1.Attr("ack"), "REQ 1 was answered once REQ 2 was received")
				}
			})
		})
	}
}

func TestAckIsHighestInOrderRID(t *testing.T) {
	// (XEP-0124 §9.1, Ex. 8): 'ack' is the highest rid received with no
	// gap below it.
	t.Run("REQ 1 released by REQ 2 carries ack=R2", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			x := newTester(t, Config{})
			s := x.create(1000, "wait='5'")
			c1 := s.post(1, "", "")
			holdHeld(t, c1)
			c2 := s.post(2, "", holdMsg("x"))
			r1 := holdAnswered(t, c1)
			assert.Equal(t, holdRID(s, 2), r1.Attr("ack"))
			holdHeld(t, c2)
		})
	})
	t.Run("a request above a gap is not acknowledged", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			x := newTester(t, Config{})
			s := x.create(1000, "wait='5'")
			c1 := s.post(1, "", "")
			holdHeld(t, c1)
			c3 := s.post(3, "", holdMsg("x"))
			holdHeld(t, c3)
			holdDeliver(t, x, holdMsg("to REQ 1"))
			r1 := holdAnswered(t, c1)
			assert.Equal(t, []string{holdMsg("to REQ 1")}, r1.Children)
			_, has := r1.Attrs["ack"]
			assert.False(t, has, "the in-order ack is R1, the rid answered, so it is omitted (never R3): %s", r1.Raw)
		})
	})
}

func TestCreationResponseCarriesAck(t *testing.T) {
	// (XEP-0124 §9.1, §7.2): the handler uses acks, so the creation
	// response carries ack = the creation rid, whatever the session kind.
	for _, tc := range []struct{ name, create string }{
		{"default session", ""},
		{"client acks (ack='1')", "ack='1'"},
		{"polling session (hold='0')", "hold='0'"},
		{"legacy client (no ver)", "-ver"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			x := newTester(t, Config{})
			s := x.create(4242, tc.create)
			assert.Equal(t, "4242", s.created.Attr("ack"))
		})
	}
}

func TestAckOmittedWhenEqualToRID(t *testing.T) {
	// (XEP-0124 §9.1): after the creation response, 'ack' is left out
	// when it would equal the rid answered.
	synctest.Test(t, func(t *testing.T) {
		x := newTester(t, Config{})
		s := x.create(1000, "wait='5'")
		c1 := s.post(1, "", "")
		time.Sleep(5 * time.Second)
		r1 := holdAnswered(t, c1)
		assert.Equal(t, `<body xmlns='`+NS+`'/>`, r1.Raw, "REQ 1 alone, answered at wait: no ack")
		c2 := s.post(2, "", "")
		holdDeliver(t, x, holdMsg("x"))
		r2 := holdAnswered(t, c2)
		_, has := r2.Attrs["ack"]
		assert.False(t, has, "answered with data: no ack either: %s", r2.Raw)
	})
}

func TestReportUnacknowledgedResponse(t *testing.T) {
	// (XEP-0124 §9.2, Ex. 10): a client that acknowledges
	// (ack='1' at creation) and sends ack < the last answered rid, when the
	// response for ack+1 went out at least Config.ReportAfter (2 s) ago, is
	// answered at once with report=ack+1 and time=ms since it was sent.
	for _, tc := range []struct {
		name     string
		cfg      Config
		create   string
		ack      uint64 // REQ 2's ack, as n (rid = creation rid + n)
		after    time.Duration
		wantTime string // "" when REQ 2 must be held, not reported
	}{
		{"ack=R0 2s after REQ 1's answer → report='R1' time='2000'", Config{}, "ack='1'", 0, 2 * time.Second, "2000"},
		{"time counts milliseconds", Config{}, "ack='1'", 0, 3*time.Second + 250*time.Millisecond, "3250"},
		{"time is an unsignedShort, capped at 65535", Config{Inactivity: 100 * time.Second}, "ack='1'", 0, 70 * time.Second, "65535"},
		{"within ReportAfter → held as usual", Config{}, "ack='1'", 0, 2*time.Second - time.Millisecond, ""},
		{"ReportAfter is configurable", Config{ReportAfter: 10 * time.Second}, "ack='1'", 0, 2 * time.Second, ""},
		{"ack up to date → held as usual", Config{}, "ack='1'", 1, 2 * time.Second, ""},
		{"no ack='1' at creation → 'ack' ignored", Config{}, "", 0, 2 * time.Second, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				x := newTester(t, tc.cfg)
				s := x.create(1000, "wait='5' "+tc.create)
				c1 := s.post(1, "", "")
				time.Sleep(5 * time.Second)
				r1 := holdAnswered(t, c1)
				require.True(t, r1.IsEmpty(), r1.Raw)
				time.Sleep(tc.after)
				start := time.Now()
				c2 := s.post(2, "ack='"+holdRID(s, tc.ack)+"'", "")
				if tc.wantTime == "" {
					holdHeld(t, c2, "no report: REQ 2 is held")
					return
				}
				r2 := holdAnswered(t, c2)
				assert.Equal(t, start, c2.at, "answered at once")
				assert.Equal(t, holdRID(s, 1), r2.Attr("report"), "report = ack+1")
				assert.Equal(t, tc.wantTime, r2.Attr("time"))
				assert.Empty(t, r2.Children)
				assert.Empty(t, r2.Type())
				again := holdAnswered(t, s.post(2, "ack='"+holdRID(s, tc.ack)+"'", ""))
				assert.Equal(t, r2.Raw, again.Raw, "§14.3: a retransmission gets the same report")
			})
		})
	}
}

func TestUnacknowledgedResponsesKept(t *testing.T) {
	// (XEP-0124 §9.2, §14.3): with client acks, every response not yet
	// acknowledged is kept for a retransmission, beyond the 'requests'
	// replies kept otherwise; a request without 'ack' acknowledges all
	// earlier responses.
	run := func(t *testing.T, create string) (*sess, *resp) {
		x := newTester(t, Config{})
		s := x.create(1000, "wait='5' "+create)
		c1 := s.post(1, "", "")
		holdHeld(t, c1)
		for n := uint64(2); n <= 4; n++ {
			// Payloads, so that §11's too-frequent rule does not apply.
			holdPost(s, n, "ack='"+holdRID(s, 0)+"'", holdMsg(strconv.FormatUint(n, 10)))
		}
		r1 := holdAnswered(t, c1)
		require.True(t, r1.IsEmpty(), r1.Raw)
		return s, r1
	}
	t.Run("ack='1': REQ 1 resent after REQ 4 gets its response", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			s, r1 := run(t, "ack='1'")
			again := holdAnswered(t, s.post(1, "", ""))
			assert.Equal(t, r1.Raw, again.Raw)
			assert.Equal(t, http.StatusOK, again.Status)
			// REQ 5 without 'ack' acknowledges everything before it.
			c5 := s.post(5, "", holdMsg("5"))
			holdHeld(t, c5)
			gone := s.post(1, "", "").wait() // item-not-found comes after a grace (Session.Handle)
			assert.True(t, gone.IsTerm("item-not-found"), "acknowledged, so no longer kept: %s", gone.Raw)
		})
	})
	t.Run("control: without client acks, replies beyond 'requests' are kept for 2×wait+10s", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			s, r1 := run(t, "")
			time.Sleep(20 * time.Second) // wait='5'
			again := holdAnswered(t, s.post(1, "", ""))
			assert.Equal(t, r1.Raw, again.Raw, "kept for 20s")
			time.Sleep(time.Nanosecond)
			again = s.post(1, "", "").wait()
			assert.True(t, again.IsTerm("item-not-found"), again.Raw)
		})
	})
}
