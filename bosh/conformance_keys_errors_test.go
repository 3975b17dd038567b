package bosh

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Conformance tests for XEP-0124 §15 (key sequencing) and §17 (errors).

// ridKeys returns the key chain of XEP-0124 §15.3: keys[1] = hex(SHA-1(seed)),
// keys[i] = hex(SHA-1(keys[i-1])), in uppercase hex when upper is set. The
// hash is taken over the previous key exactly as written.
func ridKeys(seed string, n int, upper bool) []string {
	keys := make([]string, n+1)
	prev := seed
	for i := 1; i <= n; i++ {
		sum := sha1.Sum([]byte(prev))
		keys[i] = hex.EncodeToString(sum[:])
		if upper {
			keys[i] = strings.ToUpper(keys[i])
		}
		prev = keys[i]
	}
	return keys
}

func TestKeysAreOptional(t *testing.T) {
	// XEP-0124 §15.1: key sequencing is optional. A session created without
	// 'newkey' does not check keys: a stray 'key' is ignored.
	synctest.Test(t, func(t *testing.T) {
		x := newTester(t, Config{})
		x.up.echo = true
		s := x.create(1000, "")
		r := s.send(1, "key='0000000000000000000000000000000000000000'", ridMsgA)
		assert.Equal(t, []string{ridMsgA}, r.Children, r.Raw)
		r = s.send(2, "", ridMsgB)
		assert.Equal(t, []string{ridMsgB}, r.Children, r.Raw)
	})
}

func TestKeySequence(t *testing.T) {
	// XEP-0124 §15.3, §15.4: each request's key hashes to the previous
	// request's key (or newkey), compared case-insensitively.
	for _, upper := range []bool{false, true} {
		name := "lowercase hex chain accepted (§15.4)"
		if upper {
			name = "uppercase hex chain accepted (§15.3, §15.4)"
		}
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				x := newTester(t, Config{})
				x.up.echo = true
				k := ridKeys("seed", 5, upper)
				s := x.create(1000, "newkey='"+k[5]+"'")
				for n := uint64(1); n <= 4; n++ {
					msg := "<message xmlns='jabber:client'><body>" + strconv.FormatUint(n, 10) + "</body></message>"
					r := s.send(n, "key='"+k[5-n]+"'", msg)
					require.Equal(t, []string{msg}, r.Children, "request %d: %s", n, r.Raw)
				}
			})
		})
	}
	cases := []struct {
		name   string
		key    string // attribute for REQ 2
		extra  string
		status int
	}{
		{name: "wrong key → item-not-found (§15.4)", key: "key='0000000000000000000000000000000000000000'", status: http.StatusOK},
		{name: "missing key → item-not-found (§15.4)", key: "", status: http.StatusOK},
		{name: "the previous key again → item-not-found (§15.4)", key: "key='{k4}'", status: http.StatusOK},
		{name: "wrong key, legacy client: HTTP 404 (§15.4, §17.1)", key: "key='0000000000000000000000000000000000000000'", extra: "-ver", status: http.StatusNotFound},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				x := newTester(t, Config{})
				x.up.echo = true
				k := ridKeys("seed", 5, false)
				s := x.create(1000, "newkey='"+k[5]+"' "+tc.extra)
				r := s.send(1, "key='"+k[4]+"'", ridMsgA)
				require.Equal(t, []string{ridMsgA}, r.Children, r.Raw)
				r = s.send(2, strings.ReplaceAll(tc.key, "{k4}", k[4]), ridMsgB)
				assert.Equal(t, tc.status, r.Status)
				assert.Equal(t, "terminate", r.Type(), r.Raw)
				assert.Equal(t, "item-not-found", r.Condition())
				assert.Equal(t, []string{ridMsgA}, x.up.stream(t, 0).payloads(), "§15.4: the request is not processed")
				ridDead(t, s, 3)
			})
		})
	}
}

func TestKeySwitch(t *testing.T) {
	// XEP-0124 §15.5: near the end of a chain the client sends key=K(1)
	// with newkey=K'(m); the next request uses K'(m-1).
	synctest.Test(t, func(t *testing.T) {
		x := newTester(t, Config{})
		x.up.echo = true
		k := ridKeys("first", 3, false)
		k2 := ridKeys("second", 4, true)
		s := x.create(1000, "newkey='"+k[3]+"'")
		steps := []string{
			"key='" + k[2] + "'",
			"key='" + k[1] + "' newkey='" + k2[4] + "'",
			"key='" + k2[3] + "'",
			"key='" + k2[2] + "'",
		}
		for i, attrs := range steps {
			msg := "<message xmlns='jabber:client'><body>" + strconv.Itoa(i) + "</body></message>"
			r := s.send(uint64(i+1), attrs, msg)
			require.Equal(t, []string{msg}, r.Children, "step %d: %s", i+1, r.Raw)
		}
		// The old chain is over: the value that would continue it is refused.
		r := s.send(5, "key='first'", ridMsgA)
		assert.True(t, r.IsTerm("item-not-found"), r.Raw)
		assert.Len(t, x.up.stream(t, 0).payloads(), 4)
	})
}

func TestRetransmissionCarriesOriginalKey(t *testing.T) {
	// XEP-0124 §15.4 with §14.3: a retransmitted rid must carry the key it
	// was first sent with; otherwise it is not processed.
	cases := []struct {
		name string
		held bool // REQ 1 still held when it is repeated
		key  func(k []string) string
		ok   bool
	}{
		{name: "answered rid resent with its key → cached copy (§14.3, §15.4)", key: func(k []string) string { return k[4] }, ok: true},
		{name: "answered rid resent with its key in uppercase → cached copy (§15.4)", key: func(k []string) string { return strings.ToUpper(k[4]) }, ok: true},
		{name: "answered rid resent with another key → item-not-found (§15.4)", key: func(k []string) string { return k[3] }},
		{name: "held rid resent with its key → waits beside it (§14.3, §15.4)", held: true, key: func(k []string) string { return k[4] }, ok: true},
		{name: "held rid resent with another key → item-not-found (§15.4)", held: true, key: func(k []string) string { return k[3] }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				x := newTester(t, Config{})
				x.up.echo = true
				k := ridKeys("seed", 5, false)
				s := x.create(1000, "newkey='"+k[5]+"'")
				payload := ridMsgA
				if tc.held {
					payload = ""
				}
				first := s.post(1, "key='"+k[4]+"'", payload)
				synctest.Wait()
				var orig *resp
				if !tc.held {
					orig = first.wait()
					require.Equal(t, []string{ridMsgA}, orig.Children)
				} else {
					require.False(t, first.Done())
				}
				again := s.post(1, "key='"+tc.key(k)+"'", payload)
				synctest.Wait()
				switch {
				case !tc.ok:
					r := again.wait()
					assert.True(t, r.IsTerm("item-not-found"), r.Raw)
					ridDead(t, s, 2)
				case tc.held:
					assert.False(t, first.Done(), "the original stays held")
					assert.False(t, again.Done(), "the repeat is held beside it")
				default:
					assert.Equal(t, orig.Raw, again.wait().Raw)
				}
			})
		})
	}
}

const ridStreamError = "<stream:error xmlns:stream='http://etherx.jabber.org/streams'>" +
	"<conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>" +
	"<text xmlns='urn:ietf:params:xml:ns:xmpp-streams'>Replaced by new connection</text></stream:error>"

// ridErrTrigger provokes a terminal error in session s and returns the
// response that carries it.
type ridErrTrigger func(t *testing.T, x *tester, s *sess) *resp

func TestErrorStatusAndEnd(t *testing.T) {
	// XEP-0124 §17.1: a session created with 'ver' never gets an HTTP error
	// code; a legacy one (no 'ver') gets 400/403/404 instead of
	// bad-request/policy-violation/item-not-found and HTTP 200 for every
	// other condition (§17.2 Table 2). §17.2: after any terminate
	// body the session is over.
	cases := []struct {
		name   string
		create string // extra creation attributes
		cond   Condition
		legacy int // HTTP status for a legacy client
		// alive: the session goes on. Only a body too broken to name its
		// session leaves it alone; "the session is over after any terminate body" holds for
		// every refused request whose sid can be read.
		alive bool
		do    ridErrTrigger
	}{
		{
			name: "bad-request: rid='abc' (§14.1)", cond: BadRequest, legacy: http.StatusBadRequest,
			do: func(t *testing.T, x *tester, s *sess) *resp {
				return x.send("<body rid='abc' sid='" + s.sid + "' xmlns='" + NS + "'/>")
			},
		},
		{
			name: "bad-request: no rid (§14.1)", cond: BadRequest, legacy: http.StatusBadRequest,
			do: func(t *testing.T, x *tester, s *sess) *resp {
				return x.send("<body sid='" + s.sid + "' xmlns='" + NS + "'/>")
			},
		},
		{
			name: "bad-request: not well-formed, the session cannot be told (§6)", cond: BadRequest, legacy: http.StatusOK, alive: true,
			do: func(t *testing.T, x *tester, s *sess) *resp {
				return x.send(s.body(1, "", "<message xmlns='jabber:client'>"))
			},
		},
		{
			name: "item-not-found: rid above the window (§14.2)", cond: ItemNotFound, legacy: http.StatusNotFound,
			do: func(t *testing.T, x *tester, s *sess) *resp { return s.send(3, "", "") },
		},
		{
			name: "item-not-found: rid no longer buffered (§14.3)", cond: ItemNotFound, legacy: http.StatusNotFound,
			do: func(t *testing.T, x *tester, s *sess) *resp { return s.send(0, "", "") },
		},
		{
			name: "item-not-found: wrong key (§15.4)", create: "newkey='" + ridKeys("s", 2, false)[2] + "'", cond: ItemNotFound, legacy: http.StatusNotFound,
			do: func(t *testing.T, x *tester, s *sess) *resp { return s.send(1, "key='nope'", "") },
		},
		{
			name: "policy-violation: too many repeats (§14.3)", cond: PolicyViolation, legacy: http.StatusForbidden,
			do: func(t *testing.T, x *tester, s *sess) *resp {
				for range 5 {
					s.post(1, "", "")
					synctest.Wait()
				}
				return s.send(1, "", "")
			},
		},
		{
			name: "policy-violation: too frequent (§11)", cond: PolicyViolation, legacy: http.StatusForbidden,
			do: func(t *testing.T, x *tester, s *sess) *resp {
				s.post(1, "", "")
				synctest.Wait()
				return s.send(2, "", "")
			},
		},
		{
			name: "remote-stream-error: no legacy code (§17.2)", cond: RemoteStreamError, legacy: http.StatusOK,
			do: func(t *testing.T, x *tester, s *sess) *resp {
				x.up.stream(t, 0).sink.End(&Error{Condition: RemoteStreamError, Children: [][]byte{[]byte(ridStreamError)}})
				return s.send(1, "", "")
			},
		},
		{
			name: "host-gone: no legacy code (§17.2)", cond: HostGone, legacy: http.StatusOK,
			do: func(t *testing.T, x *tester, s *sess) *resp {
				c := s.post(1, "", "")
				synctest.Wait()
				x.up.stream(t, 0).sink.End(HostGone)
				return c.wait()
			},
		},
		{
			name: "internal-server-error: the upstream's send fails (§17.1)", cond: InternalServerError, legacy: http.StatusOK,
			do: func(t *testing.T, x *tester, s *sess) *resp {
				st := x.up.stream(t, 0)
				st.mu.Lock()
				st.sendErr = errors.New("broken pipe")
				st.mu.Unlock()
				return s.send(1, "", ridMsgA)
			},
		},
	}
	for _, tc := range cases {
		for _, legacy := range []bool{false, true} {
			name, extra, status := "ver='1.11', "+tc.name, tc.create, http.StatusOK
			if legacy {
				name, extra, status = "no ver, "+tc.name, tc.create+" -ver", tc.legacy
			}
			t.Run(name, func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					x := newTester(t, Config{Logger: slog.New(slog.DiscardHandler)})
					s := x.create(1000, extra)
					r := tc.do(t, x, s)
					assert.Equal(t, status, r.Status, r.Raw)
					assert.Equal(t, "terminate", r.Type(), r.Raw)
					assert.Equal(t, string(tc.cond), r.Condition(), r.Raw)
					if tc.alive {
						assert.Equal(t, int64(1), x.h.Stats().Sessions)
						return
					}
					// the session is over.
					assert.Equal(t, int64(0), x.h.Stats().Sessions)
					assert.Equal(t, uint64(1), x.h.Stats().Ended[string(tc.cond)])
					ridDead(t, s, 2)
				})
			})
		}
	}
}

func TestUnknownSidIsNotLegacy(t *testing.T) {
	// XEP-0124 §17.1 with an unknown sid has no session and
	// so no 'ver'; chosen behaviour: HTTP 200 with item-not-found, even
	// after a legacy session with that sid ended.
	synctest.Test(t, func(t *testing.T) {
		x := newTester(t, Config{})
		s := x.create(1000, "-ver")
		r := s.send(3, "", "")
		require.Equal(t, http.StatusNotFound, r.Status, "legacy session: 404")
		r = s.send(1, "", "")
		assert.True(t, r.IsTerm("item-not-found"), "%d %s", r.Status, r.Raw)
		r = x.send("<body rid='1' sid='nosuchsid' xmlns='" + NS + "'/>")
		assert.True(t, r.IsTerm("item-not-found"), "%d %s", r.Status, r.Raw)
	})
}

func TestInternalErrorIsNot500(t *testing.T) {
	// XEP-0124 §17.1: no HTTP 500; an internal failure is
	// internal-server-error in a terminate body, for legacy clients too.
	for _, extra := range []string{"", "-ver"} {
		t.Run("upstream Open fails: internal-server-error "+extra+" (§17.1, §17.2)", func(t *testing.T) {
			x := newTester(t, Config{Logger: slog.New(slog.DiscardHandler)})
			x.up.openErr = errors.New("boom")
			r := x.send(createBody(1000, extra))
			assert.True(t, r.IsTerm("internal-server-error"), "%d %s", r.Status, r.Raw)
			assert.NotContains(t, r.Raw, "boom", "the cause is never sent to the client")
			assert.Equal(t, int64(0), x.h.Stats().Sessions)
		})
	}
}

func TestRemoteStreamError(t *testing.T) {
	// XEP-0124 §17.2, XEP-0206 §6: a fatal stream error
	// from the server reaches the client as remote-stream-error with a copy
	// of the <stream:error/>, after the payloads still queued.
	synctest.Test(t, func(t *testing.T) {
		x := newTester(t, Config{})
		s := x.create(1000, "")
		st := x.up.stream(t, 0)
		require.True(t, st.sink.Deliver([]byte(ridMsgA)))
		st.sink.End(&Error{Condition: RemoteStreamError, Children: [][]byte{[]byte(ridStreamError)}, Err: errors.New("conflict")})
		r := s.send(1, "", "")
		assert.True(t, r.IsTerm("remote-stream-error"), r.Raw)
		assert.Equal(t, []string{ridMsgA, ridStreamError}, r.Children)
		assert.NotContains(t, r.Raw, "host-gone")
		assert.Empty(t, st.closings(), "the stream ended itself")
		ridDead(t, s, 2)
	})
}

func TestErrorChildren(t *testing.T) {
	// XEP-0124 §17.2, Example 33: see-other-uri carries <uri/>;
	// undefined-condition carries application details.
	cases := []struct {
		name  string
		err   *Error
		child string
		open  bool // the error comes from Open (creation); else from a stream's End
	}{
		{name: "see-other-uri from Open: <uri/> child (§17.2)", open: true, err: &Error{Condition: SeeOtherURI}, child: "<uri>https://x/</uri>"},
		{name: "undefined-condition from Open: details (§17.2)", open: true, err: &Error{Condition: UndefinedCondition}, child: "<detail xmlns='urn:example:diag'>quota exceeded</detail>"},
		{name: "see-other-uri from End: <uri/> child (§17.2)", err: &Error{Condition: SeeOtherURI}, child: "<uri>https://x/</uri>"},
		{name: "undefined-condition from End: details (§17.2)", err: &Error{Condition: UndefinedCondition}, child: "<detail xmlns='urn:example:diag'>quota exceeded</detail>"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				x := newTester(t, Config{})
				tc.err.Children = [][]byte{[]byte(tc.child)}
				var r *resp
				if tc.open {
					x.up.openErr = tc.err
					r = x.send(createBody(1000, ""))
				} else {
					s := x.create(1000, "")
					c := s.post(1, "", "")
					synctest.Wait()
					x.up.stream(t, 0).sink.End(tc.err)
					r = c.wait()
				}
				assert.True(t, r.IsTerm(string(tc.err.Condition)), r.Raw)
				assert.Equal(t, []string{tc.child}, r.Children)
			})
		})
	}
}

func TestSystemShutdown(t *testing.T) {
	// XEP-0124 §17.2: system-shutdown ends every session and no new session
	// can be created.
	synctest.Test(t, func(t *testing.T) {
		x := newTester(t, Config{})
		s := x.create(1000, "")
		other := x.create(2000, "-ver")
		held := s.post(1, "", "")
		synctest.Wait()
		require.False(t, held.Done())
		require.NoError(t, x.h.Shutdown(context.Background()))
		r := held.wait()
		assert.True(t, r.IsTerm("system-shutdown"), r.Raw)
		for i := range 2 {
			st := x.up.stream(t, i)
			require.Len(t, st.closings(), 1)
			assert.ErrorIs(t, st.closings()[0].Err, SystemShutdown)
		}
		r = x.send(createBody(3000, ""))
		assert.True(t, r.IsTerm("system-shutdown"), "no new sessions: %s", r.Raw)
		r = x.send(createBody(3000, "-ver"))
		assert.True(t, r.IsTerm("system-shutdown"), "legacy: HTTP 200 too: %d %s", r.Status, r.Raw)
		r = other.send(1, "", "")
		assert.True(t, r.IsTerm("system-shutdown"), r.Raw)
		assert.Len(t, x.up.opens, 2)
		st := x.h.Stats()
		assert.Equal(t, int64(0), st.Sessions)
		assert.Equal(t, uint64(2), st.Ended["system-shutdown"])
	})
}

func TestStanzaErrorsPassThrough(t *testing.T) {
	// XEP-0124 §17.4: errors inside payloads pass through unchanged, both
	// ways.
	synctest.Test(t, func(t *testing.T) {
		x := newTester(t, Config{})
		s := x.create(1000, "")
		fromClient := "<iq type='error' id='c1' xmlns='jabber:client'><error type='cancel'>" +
			"<feature-not-implemented xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>"
		fromServer := "<iq type='error' id='s1' from='example.com' xmlns='jabber:client'><error type='cancel'>" +
			"<service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>" +
			"<text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas' xml:lang='en'>a &amp; b</text></error></iq>"
		c := s.post(1, "", fromClient)
		synctest.Wait()
		assert.Equal(t, []string{fromClient}, x.up.stream(t, 0).payloads())
		x.up.stream(t, 0).sink.Deliver([]byte(fromServer))
		r := c.wait()
		assert.Empty(t, r.Type(), "a stanza error is not a binding error")
		assert.Equal(t, []string{fromServer}, r.Children)
	})
}
