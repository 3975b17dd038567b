package xmppstream_test

import (
	"context"
	"encoding/xml"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/httpbind/httpbind/bosh"
	"github.com/httpbind/httpbind/bosh/boshtest"
)

// boshServer serves up through a real bosh.Handler.
func boshServer(t *testing.T, up bosh.Upstream) string {
	t.Helper()
	h, err := bosh.NewHandler(up, bosh.Config{Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	ts := httptest.NewServer(h)
	t.Cleanup(func() {
		h.Shutdown(context.Background())
		ts.Close()
	})
	return ts.URL
}

func boshClient(t *testing.T, url string) (*boshtest.Client, context.Context) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	c := boshtest.NewClient(url, boshtest.ClientConfig{Wait: 5 * time.Second})
	t.Cleanup(func() { c.Close() })
	require.NoError(t, c.Connect(ctx, fDomain))
	return c, ctx
}

// A whole login through the handler: SASL, the restart on the same
// connection with the new features relayed (XEP-0206 §5),
// bind, a message each way; ending the session closes the TCP stream
// (the server sees </stream:stream> and EOF).
func TestTCPLoginThroughHandler(t *testing.T) {
	noLeak(t)
	ca := newTestCA(t)
	f := newFakeServer(t, fakeOpts{starttls: true, ca: ca})
	c, ctx := boshClient(t, boshServer(t, newUpstream(t, tcpConfig(f, nil))))
	jid, err := c.Login(ctx, fUser, fPass, "balcony")
	require.NoError(t, err)
	assert.Equal(t, "juliet@example.com/balcony", jid)
	assert.Contains(t, f.waitEvent("header"), "to=example.com")
	f.waitEvent("elem starttls")
	f.waitEvent("header")
	f.waitEvent("elem auth")
	f.waitEvent("header") // the restart, on the same TLS connection
	f.waitEvent("elem iq")

	require.NoError(t, c.Send(ctx, []byte("<message to='romeo@example.net' xmlns='jabber:client'><body>hi</body></message>")))
	assert.Equal(t, "elem message hi", f.waitEvent("elem message"))
	got, err := c.Receive(ctx)
	require.NoError(t, err)
	assert.Equal(t, "<message xmlns='jabber:client' from='echo@example.com' to='juliet@example.com/balcony'><body>hi</body></message>", string(got))

	require.NoError(t, c.Terminate(ctx))
	assert.Equal(t, "closed", f.waitEvent("closed"))
	f.waitEvent("eof")
}

// Payloads of a restart request are not relayed.
func TestTCPRestartIgnoresPayloads(t *testing.T) {
	noLeak(t)
	f := newFakeServer(t, fakeOpts{})
	st, sink := open(t, newUpstream(t, tcpConfig(f, nil)), openReq())
	f.waitEvent("header")
	ctx := context.Background()
	require.NoError(t, st.Send(ctx, &bosh.Request{Payloads: [][]byte{
		[]byte("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AGp1bGlldAByMG0zMA==</auth>")}}))
	assert.Equal(t, "<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>", sink.waitPayloads(t, 2)[1])
	require.NoError(t, st.Send(ctx, &bosh.Request{
		Payloads: [][]byte{[]byte("<message to='romeo@example.net' xmlns='jabber:client'><body>no</body></message>")},
		Attrs:    []xml.Attr{{Name: xml.Name{Space: bosh.NSXBOSH, Local: "restart"}, Value: "1"}},
	}))
	f.waitEvent("header")
	got := sink.waitPayloads(t, 3)
	assert.Equal(t, "<stream:features xmlns:stream='http://etherx.jabber.org/streams'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></stream:features>", got[2])
	require.NoError(t, st.Send(ctx, &bosh.Request{Payloads: [][]byte{
		[]byte("<message to='romeo@example.net' xmlns='jabber:client'><body>yes</body></message>")}}))
	assert.Equal(t, "elem message yes", f.waitEvent("elem message"), "the restart's message was not relayed")
}

// A server stream error reaches a held request as remote-stream-error with
// the complete <stream:error/> (XEP-0206 §6), after the stanza
// before it; an abrupt close reaches it as remote-connection-failed
// , promptly.
func TestTCPServerEndsThroughHandler(t *testing.T) {
	noLeak(t)
	tests := []struct {
		cmd  string
		cond bosh.Condition
	}{
		{"error", bosh.RemoteStreamError},
		{"close", bosh.RemoteConnectionFailed},
	}
	for _, tt := range tests {
		t.Run(tt.cmd, func(t *testing.T) {
			f := newFakeServer(t, fakeOpts{})
			c, ctx := boshClient(t, boshServer(t, newUpstream(t, tcpConfig(f, nil))))
			_, err := c.Login(ctx, fUser, fPass, "balcony")
			require.NoError(t, err)
			start := time.Now()
			require.NoError(t, c.Send(ctx, []byte("<message to='cmd@example.com' xmlns='jabber:client'><body>"+tt.cmd+"</body></message>")))
			if tt.cmd == "error" {
				got, err := c.Receive(ctx)
				require.NoError(t, err)
				assert.Equal(t, "<message xmlns='jabber:client' from='a@example.com'><body>before</body></message>", string(got))
			}
			_, err = c.Receive(ctx)
			var te *boshtest.TerminateError
			require.ErrorAs(t, err, &te)
			assert.Equal(t, tt.cond, te.Condition)
			assert.Less(t, time.Since(start), 3*time.Second, "the held request (wait 5s) was answered at once")
			if tt.cmd == "error" {
				assert.Equal(t, "<stream:error xmlns:stream='http://etherx.jabber.org/streams'><conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>"+
					"<text xmlns='urn:ietf:params:xml:ns:xmpp-streams'>x</text></stream:error>", string(te.StreamError))
			}
		})
	}
}

// Through the handler: a server that floods a session past
// bosh.Config.MaxQueue ends it with policy-violation; the session's Close
// comes from the reader goroutine's own Deliver, and the TCP stream is
// closed.
func TestTCPMaxQueueThroughHandler(t *testing.T) {
	noLeak(t)
	f := newFakeServer(t, fakeOpts{})
	h, err := bosh.NewHandler(newUpstream(t, tcpConfig(f, nil)), bosh.Config{MaxQueue: 2, Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	ts := httptest.NewServer(h)
	defer ts.Close()
	defer h.Shutdown(context.Background())
	post := func(body string) string {
		resp, err := http.Post(ts.URL, "text/xml; charset=utf-8", strings.NewReader(body))
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return string(b)
	}
	created := post("<body rid='1000' to='example.com' wait='5' hold='1' ver='1.11' xmlns='http://jabber.org/protocol/httpbind'/>")
	sid := regexp.MustCompile(`sid='([^']+)'`).FindStringSubmatch(created)
	require.Len(t, sid, 2, created)
	post("<body rid='1001' sid='" + sid[1] + "' xmlns='http://jabber.org/protocol/httpbind'>" +
		"<message to='cmd@example.com' xmlns='jabber:client'><body>flood</body></message></body>")
	f.waitEvent("closed")
	f.waitEvent("eof")
	// The session is gone (policy-violation went to whichever request
	// was there, none here).
	assert.Contains(t, post("<body rid='1002' sid='"+sid[1]+"' xmlns='http://jabber.org/protocol/httpbind'/>"), "type='terminate'")
}

// A restart before SASL success, as node-xmpp-client sends right after the
// session creation response, never reaches the server as a new stream
// header (a server reads one there as not-well-formed XML, RFC 6120
// §4.3.1) and is answered with nothing, as by Server (XEP-0206 §5), and
// the stream goes on: SASL, then the expected restart does send a header;
// a second restart gets the current features again.
func TestTCPRestartBeforeAuth(t *testing.T) {
	noLeak(t)
	f := newFakeServer(t, fakeOpts{})
	st, sink := open(t, newUpstream(t, tcpConfig(f, nil)), openReq())
	f.waitEvent("header")
	features := sink.waitPayloads(t, 1)[0]
	ctx := context.Background()
	restart := &bosh.Request{Attrs: []xml.Attr{{Name: xml.Name{Space: bosh.NSXBOSH, Local: "restart"}, Value: "true"}}}

	require.NoError(t, st.Send(ctx, restart))
	require.NoError(t, st.Send(ctx, &bosh.Request{Payloads: [][]byte{
		[]byte("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AGp1bGlldAByMG0zMA==</auth>")}}))
	got := sink.waitPayloads(t, 2)
	assert.Equal(t, []string{features, "<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>"}, got,
		"the restart before SASL success delivered nothing")
	assert.Equal(t, []string{"elem auth "}, f.drain(), "no stream header between the creation and the auth")

	require.NoError(t, st.Send(ctx, restart))
	assert.Contains(t, f.waitEvent("header"), "to=example.com", "after SASL success the restart is the server's")
	assert.Contains(t, sink.waitPayloads(t, 3)[2], "<bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/>")
	assert.Equal(t, "http://etherx.jabber.org/streams", sink.attr("xmlns:stream"))

	require.NoError(t, st.Send(ctx, restart))
	assert.Equal(t, sink.waitPayloads(t, 4)[2], sink.waitPayloads(t, 4)[3], "a second restart gets the current features again")
	assert.Empty(t, f.drain())
}

// What the server sends in one burst reaches the client in one delivery,
// so in one response body, as from Prosody's own BOSH: here five messages
// the fake server writes at once, over a net.Pipe, whose reads return a
// write whole.
func TestTCPBurstDeliveredTogether(t *testing.T) {
	noLeak(t)
	f := newFakeServer(t, fakeOpts{})
	cfg := tcpConfig(f, nil)
	cfg.InsecurePlaintext = true // a pipe is no loopback address
	cfg.Dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
		client, server := net.Pipe()
		f.wg.Go(func() { f.serve(server); server.Close() })
		return client, nil
	}
	st, sink := open(t, newUpstream(t, cfg), openReq())
	sink.waitPayloads(t, 1) // the features
	require.NoError(t, st.Send(context.Background(), &bosh.Request{Payloads: [][]byte{
		[]byte("<message to='cmd@example.com' xmlns='jabber:client'><body>flood</body></message>")}}))
	got := sink.waitPayloads(t, 6)
	for _, p := range got[1:] {
		assert.Contains(t, p, "<body>flood</body>")
	}
	sink.mu.Lock()
	defer sink.mu.Unlock()
	assert.Equal(t, []int{1, 5}, sink.batches, "the features, then the burst in one delivery")
}
