package bosh

import (
	"net/http"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Conformance tests for XEP-0124 §16 (multiple streams). Multiple streams
// are off by default (Config.MultipleStreams).

const (
	streamsMsg1 = "<message xmlns='jabber:client'><body>one</body></message>"
	streamsMsg2 = "<message xmlns='jabber:client'><body>two</body></message>"
	streamsMsg3 = "<message xmlns='jabber:client'><body>three</body></message>"
)

// streamsSession creates a multi-stream session and opens a second stream
// with REQ 1 {to='example.net'}. It returns the names of both streams.
func streamsSession(t *testing.T, x *tester) (s *sess, first, second string) {
	t.Helper()
	s = x.create(1000, "")
	first = s.created.Attr("stream")
	require.NotEmpty(t, first, "§16.2: the creation response names the first stream")
	r := s.send(1, "to='example.net' xml:lang='en'", "")
	second = r.Attr("stream")
	require.NotEmpty(t, second, "§16.3: the new stream's name: %s", r.Raw)
	require.NotEqual(t, first, second)
	return s, first, second
}

func TestCreationResponseNamesStream(t *testing.T) {
	// XEP-0124 §16.2: a CM with multi-stream support puts 'stream' in the
	// creation response; names are unique. Without support there is no
	// 'stream' attribute anywhere.
	t.Run("supported: 'stream' on the creation response, unique (§16.2)", func(t *testing.T) {
		x := newTester(t, Config{MultipleStreams: true})
		seen := map[string]bool{}
		for i := range 20 {
			r := x.send(createBody(uint64(1000+i), ""))
			name := r.Attr("stream")
			require.NotEmpty(t, name, r.Raw)
			assert.GreaterOrEqual(t, len(name), 16, "unpredictable: long enough to guess badly")
			assert.False(t, seen[name], "stream names are unique")
			seen[name] = true
			assert.Equal(t, name, x.up.opens[i].Stream, "the upstream learns the name")
		}
	})
	t.Run("not supported: no 'stream' attribute anywhere (§16.2)", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			x := newTester(t, Config{NoPolling: true})
			s := x.create(1000, "wait='5'")
			_, ok := s.created.Attrs["stream"]
			assert.False(t, ok, s.created.Raw)
			assert.Empty(t, x.up.opens[0].Stream)
			held := s.post(1, "", "")
			synctest.Wait()
			x.up.stream(t, 0).sink.Deliver([]byte(streamsMsg1))
			data := held.wait()
			require.Equal(t, []string{streamsMsg1}, data.Children)
			held = s.post(2, "", "")
			time.Sleep(5 * time.Second)
			synctest.Wait()
			empty := held.wait()
			require.True(t, empty.IsEmpty())
			x.up.stream(t, 0).sink.End(HostGone)
			term := s.send(3, "", "")
			require.True(t, term.IsTerm("host-gone"), term.Raw)
			for _, r := range []*resp{data, empty, term} {
				_, ok := r.Attrs["stream"]
				assert.False(t, ok, r.Raw)
			}
		})
	})
}

func TestToIgnoredWithoutMultipleStreams(t *testing.T) {
	// XEP-0124 §16.3: a CM without multi-stream support ignores 'to' and
	// 'xml:lang' on later requests and treats the request as a normal empty
	// one: no new stream, no reset. The attributes reach the upstream as
	// Request.Attrs, where XEP-0206 restarts are recognised.
	cases := []struct {
		name    string
		multi   bool
		attrs   string
		restart bool
	}{
		{name: "to/xml:lang on a request: a normal empty poll (§16.3)", attrs: "to='example.com' xml:lang='en'"},
		{name: "XEP-0206 restart with to/xml:lang: no new stream (§16.3, XEP-0206 §5)", attrs: "to='example.com' xml:lang='en' xmpp:restart='true' xmlns:xmpp='" + NSXBOSH + "'", restart: true},
		{name: "XEP-0206 restart with to, multiple streams on: no new stream (§16.3, XEP-0206 §5)", multi: true, attrs: "to='example.com' xml:lang='en' xmpp:restart='true' xmlns:xmpp='" + NSXBOSH + "'", restart: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				x := newTester(t, Config{MultipleStreams: tc.multi})
				s := x.create(1000, "wait='10'")
				start := time.Now()
				c := s.post(1, tc.attrs, "")
				synctest.Wait()
				assert.False(t, c.Done(), "held like an empty poll")
				time.Sleep(10 * time.Second)
				synctest.Wait()
				r := c.wait()
				assert.True(t, r.IsEmpty(), r.Raw)
				assert.Equal(t, 10*time.Second, c.at.Sub(start))
				_, named := r.Attrs["stream"]
				assert.False(t, named, "no new stream: %s", r.Raw)
				assert.Len(t, x.up.opens, 1, "no new stream is opened")
				reqs := x.up.stream(t, 0).requests()
				require.Len(t, reqs, 1, "the attributes are handed to the upstream")
				to, _ := reqs[0].Attr("", "to")
				assert.Equal(t, "example.com", to)
				lang, _ := reqs[0].Attr(nsXML, "lang")
				assert.Equal(t, "en", lang)
				restart, ok := reqs[0].Attr(NSXBOSH, "restart")
				assert.Equal(t, tc.restart, ok)
				if tc.restart {
					assert.Equal(t, "true", restart)
				}
				assert.Empty(t, reqs[0].Payloads)
				assert.False(t, reqs[0].Terminate)
				// The session goes on, not reset.
				x.up.echo = true
				r = s.send(2, "", streamsMsg1)
				assert.Equal(t, []string{streamsMsg1}, r.Children)
			})
		})
	}
}

func TestAddStream(t *testing.T) {
	// XEP-0124 §16.3, Example 26: REQ {to} opens a stream and the response
	// names it; 'from' MAY be given; the session attributes are not repeated.
	synctest.Test(t, func(t *testing.T) {
		x := newTester(t, Config{MultipleStreams: true, NoPolling: true})
		s := x.create(1000, "")
		first := s.created.Attr("stream")
		x.up.onOpen = func(req *OpenRequest, sink Sink) {
			sink.SetAttrs(Attr{Name: "from", Value: req.To})
		}
		r := s.send(1, "to='example.net' xml:lang='de'", "")
		assert.Equal(t, http.StatusOK, r.Status)
		name := r.Attr("stream")
		require.NotEmpty(t, name, r.Raw)
		assert.NotEqual(t, first, name)
		assert.Equal(t, "example.net", r.Attr("from"), r.Raw)
		assert.Empty(t, r.Type())
		for _, a := range []string{"sid", "requests", "polling", "hold", "inactivity", "maxpause", "accept", "charsets", "ver", "wait"} {
			_, ok := r.Attrs[a]
			assert.False(t, ok, "§16.3: no %q on the new-stream response", a)
		}
		require.Len(t, x.up.opens, 2)
		open := x.up.opens[1]
		assert.Equal(t, name, open.Stream)
		assert.Equal(t, "example.net", open.To)
		assert.Equal(t, "de", open.Lang)
		assert.Equal(t, s.sid, open.SID)
		assert.Empty(t, x.up.stream(t, 0).requests(), "the first stream is not told")
	})
}

func TestAddStreamRefused(t *testing.T) {
	// XEP-0124 §16.3, §16.6: when the upstream refuses the new stream, the
	// response is a terminate naming that stream; the session lives on.
	synctest.Test(t, func(t *testing.T) {
		x := newTester(t, Config{MultipleStreams: true, NoPolling: true})
		x.up.echo = true
		s := x.create(1000, "")
		x.up.mu.Lock()
		x.up.openErr = HostUnknown
		x.up.mu.Unlock()
		r := s.send(1, "to='nowhere.example'", "")
		assert.Equal(t, "terminate", r.Type(), r.Raw)
		assert.Equal(t, "host-unknown", r.Condition())
		assert.NotEmpty(t, r.Attr("stream"))
		r = s.send(2, "", streamsMsg1)
		assert.Equal(t, []string{streamsMsg1}, r.Children, "the session lives on")
	})
}

func TestFromCarriesStream(t *testing.T) {
	// XEP-0124 §16.3: a 'from' for a stream in a later response comes with
	// that stream's name.
	synctest.Test(t, func(t *testing.T) {
		x := newTester(t, Config{MultipleStreams: true, NoPolling: true})
		s, _, second := streamsSession(t, x)
		held := s.post(2, "", "")
		synctest.Wait()
		st := x.up.stream(t, 1)
		st.sink.SetAttrs(Attr{Name: "from", Value: "example.net"})
		st.sink.Deliver([]byte(streamsMsg1))
		r := held.wait()
		assert.Equal(t, "example.net", r.Attr("from"), r.Raw)
		assert.Equal(t, second, r.Attr("stream"), r.Raw)
	})
}

func TestStreamsNeverMixed(t *testing.T) {
	// XEP-0124 §16.4: with several streams open every non-empty body names
	// its stream, and one body never mixes payloads of two streams.
	synctest.Test(t, func(t *testing.T) {
		x := newTester(t, Config{MultipleStreams: true, NoPolling: true})
		s, first, second := streamsSession(t, x)
		x.up.stream(t, 0).sink.Deliver([]byte(streamsMsg1))
		x.up.stream(t, 1).sink.Deliver([]byte(streamsMsg2))
		x.up.stream(t, 0).sink.Deliver([]byte(streamsMsg3))
		want := []struct {
			stream  string
			payload string
		}{{first, streamsMsg1}, {second, streamsMsg2}, {first, streamsMsg3}}
		for i, w := range want {
			r := s.send(uint64(i+2), "", "")
			assert.Equal(t, w.stream, r.Attr("stream"), r.Raw)
			assert.Equal(t, []string{w.payload}, r.Children, r.Raw)
		}
	})
}

func TestUnknownStream(t *testing.T) {
	// XEP-0124 §16.4: payloads for an unknown stream → item-not-found.
	synctest.Test(t, func(t *testing.T) {
		x := newTester(t, Config{MultipleStreams: true, NoPolling: true})
		s, _, _ := streamsSession(t, x)
		r := s.send(2, "stream='bogus'", streamsMsg1)
		assert.True(t, r.IsTerm("item-not-found"), r.Raw)
		_, named := r.Attrs["stream"]
		assert.False(t, named, "the whole session ends: %s", r.Raw)
		for i := range 2 {
			st := x.up.stream(t, i)
			assert.Empty(t, st.payloads(), "stream %d", i)
			require.Len(t, st.closings(), 1)
			assert.ErrorIs(t, st.closings()[0].Err, ItemNotFound)
		}
		ridDead(t, s, 3)
	})
}

func TestJustClosedStreamIgnored(t *testing.T) {
	// XEP-0124 §16.4: payloads for a stream the client just closed MAY be
	// ignored; chosen behaviour: they are dropped and the request is a
	// normal poll.
	synctest.Test(t, func(t *testing.T) {
		x := newTester(t, Config{MultipleStreams: true, NoPolling: true})
		s, first, second := streamsSession(t, x)
		r := s.send(2, "type='terminate' stream='"+second+"'", "")
		require.Equal(t, "terminate", r.Type(), r.Raw)
		late := s.post(3, "stream='"+second+"'", streamsMsg1)
		synctest.Wait()
		assert.False(t, late.Done(), "held as a poll")
		assert.Empty(t, x.up.stream(t, 0).payloads())
		assert.Empty(t, x.up.stream(t, 1).payloads())
		x.up.stream(t, 0).sink.Deliver([]byte(streamsMsg2))
		r = late.wait()
		assert.Equal(t, first, r.Attr("stream"))
		assert.Equal(t, []string{streamsMsg2}, r.Children)
	})
}

func TestPayloadsWithoutStreamGoToAll(t *testing.T) {
	// XEP-0124 §16.4: a body without 'stream' goes to every open stream;
	// with 'stream', only to that one.
	synctest.Test(t, func(t *testing.T) {
		x := newTester(t, Config{MultipleStreams: true, NoPolling: true})
		s, first, second := streamsSession(t, x)
		presence := "<presence xmlns='jabber:client'/>"
		one := s.post(2, "", presence)
		synctest.Wait()
		assert.Equal(t, []string{presence}, x.up.stream(t, 0).payloads(), "first stream")
		assert.Equal(t, []string{presence}, x.up.stream(t, 1).payloads(), "second stream")
		two := s.post(3, "stream='"+second+"'", streamsMsg2)
		assert.True(t, one.wait().IsEmpty())
		three := s.post(4, "stream='"+first+"'", streamsMsg1)
		assert.True(t, two.wait().IsEmpty())
		assert.Equal(t, []string{presence, streamsMsg1}, x.up.stream(t, 0).payloads())
		assert.Equal(t, []string{presence, streamsMsg2}, x.up.stream(t, 1).payloads())
		synctest.Wait()
		assert.False(t, three.Done())
	})
}

func TestEmptyBodiesCarryNoStream(t *testing.T) {
	// XEP-0124 §16.4: an empty body without 'from' does not carry 'stream';
	// 'stream' on an empty client body is ignored (a normal poll), even an
	// unknown one.
	synctest.Test(t, func(t *testing.T) {
		x := newTester(t, Config{MultipleStreams: true, NoPolling: true})
		s, _, _ := streamsSession(t, x)
		start := time.Now()
		c := s.post(2, "stream='bogus'", "")
		synctest.Wait()
		assert.False(t, c.Done(), "a normal poll")
		time.Sleep(DefaultMaxWait) // the session's wait: 60 asked, capped
		synctest.Wait()
		r := c.wait()
		assert.True(t, r.IsEmpty(), r.Raw)
		assert.Equal(t, DefaultMaxWait, c.at.Sub(start))
		_, named := r.Attrs["stream"]
		assert.False(t, named, r.Raw)
		assert.Equal(t, int64(1), x.h.Stats().Sessions)
	})
}

func TestTerminateStream(t *testing.T) {
	// XEP-0124 §16.5: terminate with 'stream' closes that stream; closing
	// the last one ends the session; terminate without 'stream' sends its
	// payloads to every stream and closes them all.
	bye := "<presence type='unavailable' xmlns='jabber:client'/>"
	t.Run("terminate with stream closes only that stream (§16.5)", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			x := newTester(t, Config{MultipleStreams: true, NoPolling: true})
			s, first, second := streamsSession(t, x)
			held := s.post(2, "", "")
			synctest.Wait()
			r := s.send(3, "type='terminate' stream='"+second+"'", bye)
			assert.Equal(t, "terminate", r.Type(), r.Raw)
			assert.Equal(t, second, r.Attr("stream"))
			assert.Empty(t, r.Condition())
			assert.True(t, held.wait().IsEmpty())
			s1, s2 := x.up.stream(t, 0), x.up.stream(t, 1)
			assert.Equal(t, []string{bye}, s2.payloads())
			require.Len(t, s2.requests(), 1)
			assert.True(t, s2.requests()[0].Terminate)
			require.Len(t, s2.closings(), 1)
			assert.NoError(t, s2.closings()[0].Err)
			assert.Empty(t, s1.payloads())
			assert.Empty(t, s1.closings())
			// The session lives on with the first stream.
			x.up.echo = true
			r = s.send(4, "", streamsMsg1)
			assert.Equal(t, []string{streamsMsg1}, r.Children)
			assert.Equal(t, first, r.Attr("stream"))
			// Closing the last stream ends the session.
			r = s.send(5, "type='terminate' stream='"+first+"'", "")
			assert.Equal(t, "terminate", r.Type(), r.Raw)
			assert.Len(t, s1.closings(), 1)
			ridDead(t, s, 6)
		})
	})
	t.Run("terminate without stream: payloads to every stream, all closed (§16.5)", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			x := newTester(t, Config{MultipleStreams: true, NoPolling: true})
			s, _, _ := streamsSession(t, x)
			r := s.send(2, "to='example.org'", "")
			require.NotEmpty(t, r.Attr("stream"), "a third stream")
			r = s.send(3, "type='terminate'", bye)
			assert.Equal(t, "terminate", r.Type(), r.Raw)
			_, named := r.Attrs["stream"]
			assert.False(t, named, r.Raw)
			for i := range 3 {
				st := x.up.stream(t, i)
				assert.Equal(t, []string{bye}, st.payloads(), "stream %d", i)
				require.Len(t, st.closings(), 1, "stream %d", i)
				assert.NoError(t, st.closings()[0].Err)
			}
			ridDead(t, s, 4)
		})
	})
}

func TestStreamErrorClosesOnlyThatStream(t *testing.T) {
	// XEP-0124 §16.6, Example 31: a fatal error naming a stream closes only
	// that stream and the session goes on; an error on the last stream
	// ends the session, without 'stream'.
	for _, legacy := range []bool{false, true} {
		name := "upstream ends one of two streams (§16.6)"
		extra := ""
		if legacy {
			name = "legacy client: the stream's terminate is HTTP 200 (§16.6, §17.1)"
			extra = "-ver"
		}
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				x := newTester(t, Config{MultipleStreams: true, NoPolling: true})
				s := x.create(1000, extra)
				first := s.created.Attr("stream")
				r := s.send(1, "to='example.net'", "")
				second := r.Attr("stream")
				require.NotEmpty(t, second)
				held := s.post(2, "", "")
				synctest.Wait()
				x.up.stream(t, 1).sink.End(ItemNotFound)
				r = held.wait()
				assert.Equal(t, http.StatusOK, r.Status)
				assert.Equal(t, "terminate", r.Type(), r.Raw)
				assert.Equal(t, "item-not-found", r.Condition())
				assert.Equal(t, second, r.Attr("stream"))
				assert.Empty(t, x.up.stream(t, 1).closings(), "it ended itself")
				assert.Empty(t, x.up.stream(t, 0).closings())
				// The session lives on.
				x.up.echo = true
				r = s.send(3, "", streamsMsg1)
				assert.Equal(t, []string{streamsMsg1}, r.Children, r.Raw)
				assert.Equal(t, first, r.Attr("stream"))
				assert.Equal(t, []string{streamsMsg1}, x.up.stream(t, 0).payloads())
				assert.Empty(t, x.up.stream(t, 1).payloads(), "the closed stream gets nothing")
				// An error on the last stream ends the session.
				held = s.post(4, "", "")
				synctest.Wait()
				x.up.stream(t, 0).sink.End(RemoteConnectionFailed)
				r = held.wait()
				assert.True(t, r.IsTerm("remote-connection-failed"), r.Raw)
				_, named := r.Attrs["stream"]
				assert.False(t, named, r.Raw)
				ridDead(t, s, 5)
			})
		})
	}
	t.Run("remote-connection-failed names the stream (§16.6, Example 31)", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			x := newTester(t, Config{MultipleStreams: true, NoPolling: true})
			s, _, second := streamsSession(t, x)
			x.up.stream(t, 1).sink.End(&Error{Condition: RemoteConnectionFailed})
			r := s.send(2, "", "")
			assert.Equal(t, "terminate", r.Type(), r.Raw)
			assert.Equal(t, "remote-connection-failed", r.Condition())
			assert.Equal(t, second, r.Attr("stream"))
			assert.Equal(t, int64(1), x.h.Stats().Sessions)
		})
	})
}
