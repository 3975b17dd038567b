package boshtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"regexp"
	"runtime/pprof"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"mellium.im/sasl"

	"github.com/httpbind/httpbind/bosh"
	"github.com/httpbind/httpbind/internal/syncbuf"
)

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestClientCreationRequest(t *testing.T) {
	ctx := testContext(t)
	f := &fakeXMPP{}
	_, url := serve(t, f, bosh.Config{})
	var trace syncbuf.Buffer
	c := NewClient(url, ClientConfig{Trace: &trace, Wait: 7 * time.Second})
	defer c.Close()
	require.NoError(t, c.Connect(ctx, "example.com"))

	require.Len(t, f.opens, 1)
	open := f.opens[0]
	assert.Equal(t, "example.com", open.To)
	assert.Equal(t, "en", open.Lang)
	assert.Equal(t, "1.11", open.Version, "ver='1.11' (XEP-0124 §7.1)")
	v, ok := open.Attr(nsXBOSH, "version")
	assert.True(t, ok && v == "1.0", "xmpp:version='1.0' (XEP-0206 §3)")
	assert.Equal(t, open.SID, c.SID())

	first := strings.SplitN(trace.String(), "\n", 2)[0]
	m := regexp.MustCompile(`^→ (\d+) <body rid='(\d+)' .*hold='1'`).FindStringSubmatch(first)
	require.NotNil(t, m, first)
	rid, err := strconv.ParseUint(m[2], 10, 64)
	require.NoError(t, err)
	assert.Equal(t, m[1], m[2])
	assert.GreaterOrEqual(t, rid, uint64(1e9), "a large random initial rid (XEP-0124 §14.1)")
	assert.Less(t, rid, uint64(1)<<53)
	assert.Contains(t, first, "wait='7'")
}

func TestClientKeepsOneRequestHeld(t *testing.T) {
	ctx := testContext(t)
	w, url := serve(t, echoUpstream, bosh.Config{})
	c := NewClient(url, ClientConfig{})
	defer c.Close()
	require.NoError(t, c.Connect(ctx, "example.com"))

	// The poller's empty request arrives by itself.
	seen := w.waitSeen(t, ctx, 2)
	assert.True(t, seen[1].empty, "an empty request is held after creation (XEP-0124 §8)")
	assert.Equal(t, seen[0].rid+1, seen[1].rid)

	// A stanza goes in an extra request; the connection manager answers
	// the held one (requests=2) and holds the new one, so no new poll is
	// needed until the echo comes back.
	msg := []byte("<message xmlns='jabber:client'><body>one</body></message>")
	require.NoError(t, c.Send(ctx, msg))
	got, err := c.Receive(ctx)
	require.NoError(t, err)
	assert.Equal(t, string(msg), string(got))

	for i := range 5 {
		m := fmt.Appendf(nil, "<message xmlns='jabber:client'><body>%d</body></message>", i)
		require.NoError(t, c.Send(ctx, m))
		got, err := c.Receive(ctx)
		require.NoError(t, err)
		assert.Equal(t, string(m), string(got))
	}
	seen = w.waitSeen(t, ctx, 8)
	for i := 1; i < len(seen); i++ {
		assert.Equal(t, seen[i-1].rid+1, seen[i].rid, "rids increase by one (XEP-0124 §14.1)")
	}
	w.mu.Lock()
	most := w.most
	w.mu.Unlock()
	assert.LessOrEqual(t, most, 2, "never more than 'requests' at once (XEP-0124 §11)")
}

func TestClientConcurrentSends(t *testing.T) {
	ctx := testContext(t)
	w, url := serve(t, echoUpstream, bosh.Config{})
	c := NewClient(url, ClientConfig{})
	defer c.Close()
	require.NoError(t, c.Connect(ctx, "example.com"))

	// Many goroutines send at once: the Client batches what queues up and
	// never has more than 'requests' requests at the connection manager.
	const n = 40
	errs := make(chan error, n)
	var want []string
	for i := range n {
		m := fmt.Sprintf("<message xmlns='jabber:client' id='m%d'/>", i)
		want = append(want, m)
		go func() { errs <- c.Send(ctx, []byte(m)) }()
	}
	var got []string
	for len(got) < n {
		el, err := c.Receive(ctx)
		require.NoError(t, err)
		got = append(got, string(el))
	}
	for range n {
		require.NoError(t, <-errs)
	}
	assert.ElementsMatch(t, want, got, "every stanza comes back once")
	w.mu.Lock()
	defer w.mu.Unlock()
	assert.LessOrEqual(t, w.most, 2, "never more than 'requests' at once (XEP-0124 §11)")
	assert.Less(t, len(w.seen), n+2, "queued stanzas share requests")
}

func TestClientTerminate(t *testing.T) {
	ctx := testContext(t)
	f := &fakeXMPP{}
	w, url := serve(t, f, bosh.Config{})
	c := NewClient(url, ClientConfig{})
	require.NoError(t, c.Connect(ctx, "example.com"))
	w.waitSeen(t, ctx, 2) // the poll is held

	require.NoError(t, c.Terminate(ctx))
	seen := w.waitSeen(t, ctx, 3)
	assert.True(t, seen[2].terminate, "a type='terminate' request (XEP-0124 §13)")
	assert.Equal(t, []string{"terminate"}, f.Events())
	closings := f.Closings()
	require.Len(t, closings, 1)
	assert.NoError(t, closings[0].Err, "the stream closes as a client termination")
	assert.Zero(t, w.h.Stats().Sessions)

	features, err := c.Receive(ctx)
	require.NoError(t, err, "what was received before the end is still there")
	assert.Contains(t, string(features), "<stream:features")
	_, err = c.Receive(ctx)
	assert.ErrorIs(t, err, ErrClosed)
	assert.ErrorIs(t, c.Send(ctx, []byte("<message/>")), ErrClosed)
	assert.NoError(t, c.Close(), "Close after Terminate is a no-op")
}

func TestClientRemoteStreamError(t *testing.T) {
	// A terminate body with remote-stream-error: the stanzas before the
	// <stream:error/> are received, then the session's error carries the
	// condition and the stream error (XEP-0206 §6).
	ctx := testContext(t)
	sinks := make(chan bosh.Sink, 1)
	up := bosh.UpstreamFunc(func(ctx context.Context, req *bosh.OpenRequest, sink bosh.Sink) (bosh.Stream, error) {
		sinks <- sink
		return echoStream{sink}, nil
	})
	w, url := serve(t, up, bosh.Config{})
	var trace syncbuf.Buffer
	c := NewClient(url, ClientConfig{Trace: &trace})
	defer c.Close()
	defer func() {
		if t.Failed() {
			t.Log(trace.String())
		}
	}()
	require.NoError(t, c.Connect(ctx, "example.com"))
	sink := <-sinks
	w.waitSeen(t, ctx, 2)

	sink.Deliver([]byte("<message xmlns='jabber:client'><body>last</body></message>"))
	sink.SetAttrs(bosh.Attr{Name: "xmlns:stream", Value: nsStream})
	sink.End(&bosh.Error{Condition: bosh.RemoteStreamError, Children: [][]byte{
		[]byte("<stream:error xmlns:stream='" + nsStream + "'><conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>"),
	}})

	got, err := c.Receive(ctx)
	require.NoError(t, err)
	assert.Contains(t, string(got), "last")
	got, err = c.Receive(ctx)
	require.ErrorIs(t, err, bosh.RemoteStreamError, "%s", got)
	var te *TerminateError
	require.ErrorAs(t, err, &te)
	assert.Contains(t, string(te.StreamError), "<conflict")
	assert.Contains(t, string(te.StreamError), "xmlns:stream='"+nsStream+"'")
}

func TestClientShutdownEndsSession(t *testing.T) {
	ctx := testContext(t)
	w, url := serve(t, echoUpstream, bosh.Config{})
	c := NewClient(url, ClientConfig{})
	defer c.Close()
	require.NoError(t, c.Connect(ctx, "example.com"))
	w.waitSeen(t, ctx, 2)
	require.NoError(t, w.h.Shutdown(ctx))
	_, err := c.Receive(ctx)
	assert.ErrorIs(t, err, bosh.SystemShutdown)
}

func TestClientContextEndsSession(t *testing.T) {
	ctx := testContext(t)
	w, url := serve(t, echoUpstream, bosh.Config{})
	c := NewClient(url, ClientConfig{})
	sctx, cancel := context.WithCancel(ctx)
	require.NoError(t, c.Connect(sctx, "example.com"))
	w.waitSeen(t, ctx, 2)
	cancel()
	_, err := c.Receive(ctx)
	assert.ErrorIs(t, err, context.Canceled)
	require.NoError(t, c.Close()) // waits for the poller and its request
	assert.Zero(t, c.bc.InFlight(), "no request left in flight")
}

func TestClientSendRefusesMalformedStanza(t *testing.T) {
	ctx := testContext(t)
	_, url := serve(t, echoUpstream, bosh.Config{})
	c := NewClient(url, ClientConfig{})
	defer c.Close()
	require.NoError(t, c.Connect(ctx, "example.com"))
	for _, s := range []string{"<a>", "<a/><b/>", "text", "<a/>trailing", "<!-- c --><a/>"} {
		assert.Error(t, c.Send(ctx, []byte(s)), s)
	}
	// The session is still usable.
	require.NoError(t, c.Send(ctx, []byte("<ok/>")))
	got, err := c.Receive(ctx)
	require.NoError(t, err)
	assert.Equal(t, "<ok/>", string(got))
}

func TestClientConnectRefused(t *testing.T) {
	ctx := testContext(t)
	up := bosh.UpstreamFunc(func(ctx context.Context, req *bosh.OpenRequest, sink bosh.Sink) (bosh.Stream, error) {
		return nil, bosh.HostUnknown
	})
	_, url := serve(t, up, bosh.Config{})
	c := NewClient(url, ClientConfig{})
	defer c.Close()
	err := c.Connect(ctx, "nowhere.example")
	assert.ErrorIs(t, err, bosh.HostUnknown)
	assert.Error(t, c.Connect(ctx, "nowhere.example"), "Connect once")
	assert.Error(t, c.Send(ctx, []byte("<a/>")))
}

func TestClientTrace(t *testing.T) {
	ctx := testContext(t)
	_, url := serve(t, echoUpstream, bosh.Config{})
	var trace syncbuf.Buffer
	c := NewClient(url, ClientConfig{Trace: &trace})
	require.NoError(t, c.Connect(ctx, "example.com"))
	require.NoError(t, c.Send(ctx, []byte("<ping/>")))
	_, err := c.Receive(ctx)
	require.NoError(t, err)
	require.NoError(t, c.Terminate(ctx))
	out := trace.String()
	assert.Regexp(t, `(?m)^→ \d+ <body rid='\d+' to='example.com'`, out)
	assert.Regexp(t, `(?m)^← \d+ <body .*sid='`, out)
	assert.Regexp(t, `(?m)^→ \d+ <body rid='\d+' sid='[^']+' xmlns='http://jabber.org/protocol/httpbind'><ping/></body>$`, out)
	assert.Regexp(t, `(?m)^→ \d+ <body rid='\d+' sid='[^']+' type='terminate'`, out)
}

func TestLoginPlain(t *testing.T) {
	tests := []struct {
		name     string
		mech     sasl.Mechanism
		session  bool
		resource string
		want     []string
		jid      string
	}{
		{"PLAIN, bind, session advertised (RFC 3921 §3)", sasl.Plain, true, "r1",
			[]string{"auth PLAIN", "restart to=example.com", "bind r1", "session"}, "alice@example.com/r1"},
		{"PLAIN, no session advertised", sasl.Plain, false, "r2",
			[]string{"auth PLAIN", "restart to=example.com", "bind r2"}, "alice@example.com/r2"},
		{"SCRAM-SHA-1", sasl.ScramSha1, false, "r3",
			[]string{"auth SCRAM-SHA-1", "restart to=example.com", "bind r3"}, "alice@example.com/r3"},
		{"SCRAM-SHA-256, server picks the resource", sasl.ScramSha256, false, "",
			[]string{"auth SCRAM-SHA-256", "restart to=example.com", "bind generated"}, "alice@example.com/generated"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := testContext(t)
			f := &fakeXMPP{users: map[string]string{"alice": "wonder land"}, session: tt.session}
			_, url := serve(t, f, bosh.Config{})
			var trace syncbuf.Buffer
			c := NewClient(url, ClientConfig{Mechanism: tt.mech, Trace: &trace})
			defer c.Close()
			defer func() {
				if t.Failed() {
					t.Log(trace.String())
				}
			}()
			require.NoError(t, c.Connect(ctx, "example.com"))
			jid, err := c.Login(ctx, "alice", "wonder land", tt.resource)
			require.NoError(t, err)
			assert.Equal(t, tt.jid, jid)
			assert.Equal(t, tt.jid, c.JID())
			assert.Equal(t, tt.want, f.Events())

			// After login, other stanzas flow (the fake echoes them).
			require.NoError(t, c.Send(ctx, []byte("<message xmlns='jabber:client'><body>hi</body></message>")))
			got, err := c.Receive(ctx)
			require.NoError(t, err)
			assert.Contains(t, string(got), "<body>hi</body>")
			require.NoError(t, c.Terminate(ctx))
		})
	}
}

func TestLoginFailures(t *testing.T) {
	tests := []struct {
		name string
		mech sasl.Mechanism
		pass string
		is   error
		msg  string
	}{
		{"wrong password, PLAIN", sasl.Plain, "nope", ErrAuth, "not-authorized"},
		{"wrong password, SCRAM-SHA-1", sasl.ScramSha1, "nope", ErrAuth, "not-authorized"},
		{"mechanism not offered", sasl.Anonymous, "x", nil, "does not offer ANONYMOUS"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := testContext(t)
			f := &fakeXMPP{users: map[string]string{"alice": "right"}}
			_, url := serve(t, f, bosh.Config{})
			c := NewClient(url, ClientConfig{Mechanism: tt.mech})
			defer c.Close()
			require.NoError(t, c.Connect(ctx, "example.com"))
			_, err := c.Login(ctx, "alice", tt.pass, "r")
			require.Error(t, err)
			if tt.is != nil {
				assert.ErrorIs(t, err, tt.is)
			}
			assert.Contains(t, err.Error(), tt.msg)
			assert.Empty(t, c.JID())
		})
	}
}

func TestClientReceiveHonoursContext(t *testing.T) {
	ctx := testContext(t)
	_, url := serve(t, echoUpstream, bosh.Config{})
	c := NewClient(url, ClientConfig{})
	defer c.Close()
	require.NoError(t, c.Connect(ctx, "example.com"))
	rctx, cancel := context.WithCancel(ctx)
	cancel()
	_, err := c.Receive(rctx)
	assert.True(t, errors.Is(err, context.Canceled))
}

// clientGoroutines returns the stacks of goroutines running Client code.
func clientGoroutines() []string {
	var buf bytes.Buffer
	pprof.Lookup("goroutine").WriteTo(&buf, 2)
	var out []string
	for g := range strings.SplitSeq(buf.String(), "\n\n") {
		if strings.Contains(g, "boshclient.(*Client).loop") || strings.Contains(g, "boshclient.(*Client).do") {
			out = append(out, g)
		}
	}
	return out
}

func TestClientCloseLeavesNoGoroutine(t *testing.T) {
	tests := []struct {
		name string
		end  func(ctx context.Context, c *Client, cancel context.CancelFunc)
	}{
		{"Close with a request held", func(ctx context.Context, c *Client, _ context.CancelFunc) { c.Close() }},
		{"Terminate (XEP-0124 §13)", func(ctx context.Context, c *Client, _ context.CancelFunc) { c.Terminate(ctx) }},
		{"Connect context canceled, then Close", func(ctx context.Context, c *Client, cancel context.CancelFunc) {
			cancel()
			c.Close()
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := testContext(t)
			w, url := serve(t, echoUpstream, bosh.Config{})
			c := NewClient(url, ClientConfig{})
			sctx, cancel := context.WithCancel(ctx)
			defer cancel()
			require.NoError(t, c.Connect(sctx, "example.com"))
			w.waitSeen(t, ctx, 2)
			require.NotEmpty(t, clientGoroutines(), "the poller runs")
			tt.end(ctx, c, cancel)
			assert.Empty(t, clientGoroutines(), "Close waited for every goroutine")
		})
	}
}
