package boshtest

import (
	"bytes"
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"hash"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	"mellium.im/sasl"

	"github.com/httpbind/httpbind/bosh"
	"github.com/httpbind/httpbind/internal/xmppwire"
)

// fakeXMPP is a small negotiating upstream for the Client's own tests,
// independent of package xmppstream: stream features on open, SASL with
// mellium.im/sasl, the restart by namespace, bind, session; any other
// stanza is echoed back. It records what it saw.
type fakeXMPP struct {
	users   map[string]string
	session bool // advertise <session/> after the restart

	mu      sync.Mutex
	events  []string       // guarded by mu
	closed  []bosh.Closing // guarded by mu
	opens   []*bosh.OpenRequest
	streams []*fakeStream
}

func (f *fakeXMPP) record(ev string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.events = append(f.events, ev)
}

func (f *fakeXMPP) Events() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.events...)
}

func (f *fakeXMPP) Closings() []bosh.Closing {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]bosh.Closing(nil), f.closed...)
}

func (f *fakeXMPP) Open(ctx context.Context, req *bosh.OpenRequest, sink bosh.Sink) (bosh.Stream, error) {
	sink.SetAttrs(
		bosh.Attr{Name: "xmlns:stream", Value: nsStream},
		bosh.Attr{Name: "xmlns:xmpp", Value: nsXBOSH},
		bosh.Attr{Name: "xmpp:version", Value: "1.0"},
		bosh.Attr{Name: "xmpp:restartlogic", Value: "true"},
	)
	sink.Deliver([]byte("<stream:features><mechanisms xmlns='" + nsSASL + "'>" +
		"<mechanism>SCRAM-SHA-256</mechanism><mechanism>SCRAM-SHA-1</mechanism><mechanism>PLAIN</mechanism>" +
		"</mechanisms></stream:features>"))
	s := &fakeStream{f: f, sink: sink, domain: req.To}
	f.mu.Lock()
	f.opens = append(f.opens, req)
	f.streams = append(f.streams, s)
	f.mu.Unlock()
	return s, nil
}

type fakeStream struct {
	f      *fakeXMPP
	sink   bosh.Sink
	domain string
	neg    *sasl.Negotiator // owned by Send, which is never concurrent
	user   string
	authed bool
}

func (s *fakeStream) Send(ctx context.Context, req *bosh.Request) error {
	if req.Terminate {
		s.f.record("terminate")
		return nil
	}
	if v, _ := req.Attr(nsXBOSH, "restart"); v == "true" || v == "1" {
		s.f.record("restart to=" + attrOf(req.Attrs, "", "to"))
		if !s.authed {
			return bosh.BadRequest
		}
		sess := ""
		if s.f.session {
			sess = "<session xmlns='" + nsSession + "'/>"
		}
		// xmlns:stream is declared on the element too, so that the fake
		// does not depend on which response body carries the attributes
		// SetAttrs adds.
		s.sink.SetAttrs(bosh.Attr{Name: "xmlns:stream", Value: nsStream})
		s.sink.Deliver([]byte("<stream:features xmlns:stream='" + nsStream + "'><bind xmlns='" + nsBind + "'/>" + sess + "</stream:features>"))
		return nil
	}
	for _, p := range req.Payloads {
		s.handle(p)
	}
	return nil
}

func attrOf(attrs []xml.Attr, space, local string) string {
	for _, a := range attrs {
		if a.Name.Space == space && a.Name.Local == local {
			return a.Value
		}
	}
	return ""
}

// handle answers one payload.
func (s *fakeStream) handle(p []byte) {
	var el struct {
		XMLName   xml.Name
		Mechanism string `xml:"mechanism,attr"`
		ID        string `xml:"id,attr"`
		Text      string `xml:",chardata"`
		Bind      *struct {
			Resource string `xml:"resource"`
		} `xml:"urn:ietf:params:xml:ns:xmpp-bind bind"`
		Session *struct{} `xml:"urn:ietf:params:xml:ns:xmpp-session session"`
	}
	if err := xml.Unmarshal(p, &el); err != nil {
		s.sink.End(bosh.BadRequest)
		return
	}
	switch {
	case el.XMLName.Space == nsSASL && el.XMLName.Local == "auth":
		s.f.record("auth " + el.Mechanism)
		s.neg = s.f.negotiator(el.Mechanism, &s.user)
		s.step(el.Text)
	case el.XMLName.Space == nsSASL && el.XMLName.Local == "response":
		s.step(el.Text)
	case el.XMLName.Local == "iq" && el.Bind != nil:
		res := el.Bind.Resource
		if res == "" {
			res = "generated"
		}
		s.f.record("bind " + res)
		s.sink.Deliver(fmt.Appendf(nil, "<iq type='result' id='%s' xmlns='jabber:client'><bind xmlns='%s'><jid>%s@%s/%s</jid></bind></iq>",
			el.ID, nsBind, s.user, s.domain, res))
	case el.XMLName.Local == "iq" && el.Session != nil:
		s.f.record("session")
		s.sink.Deliver(fmt.Appendf(nil, "<iq type='result' id='%s' xmlns='jabber:client'/>", el.ID))
	default:
		s.sink.Deliver(p)
	}
}

// step runs one server step of SASL and answers.
func (s *fakeStream) step(text string) {
	data, _ := base64.StdEncoding.DecodeString(text)
	if text == "=" {
		data = nil
	}
	more, resp, err := s.neg.Step(data)
	switch {
	case err != nil:
		s.sink.Deliver([]byte("<failure xmlns='" + nsSASL + "'><not-authorized/></failure>"))
	case more:
		s.sink.Deliver([]byte("<challenge xmlns='" + nsSASL + "'>" + base64.StdEncoding.EncodeToString(resp) + "</challenge>"))
	default:
		s.authed = true
		s.sink.Deliver([]byte("<success xmlns='" + nsSASL + "'>" + xmppwire.Encode64(resp) + "</success>"))
	}
}

// negotiator returns the server side of mechanism, storing the user name
// it authenticates in *user.
func (f *fakeXMPP) negotiator(mechanism string, user *string) *sasl.Negotiator {
	check := func(n *sasl.Negotiator) bool {
		u, p, _ := n.Credentials()
		*user = string(u)
		want, ok := f.users[string(u)]
		return ok && want == string(p)
	}
	salted := func(username, _ []byte, mech string) ([]byte, []byte, int64, error) {
		pw, ok := f.users[string(username)]
		if !ok {
			return nil, nil, 0, fmt.Errorf("no user %q", username)
		}
		*user = string(username)
		var fn func() hash.Hash = sha1.New
		if mech == "SCRAM-SHA-256" {
			fn = sha256.New
		}
		salt := []byte("fixed-salt-for-tests")
		return salt, sasl.SCRAMSaltPassword(fn, []byte(pw), salt, 4096), 4096, nil
	}
	m := map[string]sasl.Mechanism{"PLAIN": sasl.Plain, "SCRAM-SHA-1": sasl.ScramSha1, "SCRAM-SHA-256": sasl.ScramSha256}[mechanism]
	return sasl.NewServer(m, check, sasl.SaltedCredentials(salted))
}

func (s *fakeStream) Close(c bosh.Closing) {
	s.f.mu.Lock()
	defer s.f.mu.Unlock()
	s.f.closed = append(s.f.closed, c)
}

// echoUpstream sends every payload straight back.
var echoUpstream = bosh.UpstreamFunc(func(ctx context.Context, req *bosh.OpenRequest, sink bosh.Sink) (bosh.Stream, error) {
	return echoStream{sink}, nil
})

type echoStream struct{ sink bosh.Sink }

func (e echoStream) Send(ctx context.Context, req *bosh.Request) error {
	if !req.Terminate && len(req.Payloads) > 0 {
		e.sink.Deliver(req.Payloads...)
	}
	return nil
}

func (echoStream) Close(bosh.Closing) {}

// watch is an http.Handler around a bosh.Handler that records, for every
// request, its rid and whether it was empty, and how many requests were
// at the handler at once.
type watch struct {
	h  *bosh.Handler
	mu sync.Mutex
	// guarded by mu
	now, most int
	seen      []seenRequest
	arrived   chan struct{} // closed and replaced on every arrival
}

type seenRequest struct {
	rid       uint64
	empty     bool
	terminate bool
}

func (w *watch) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	var b struct {
		RID      string `xml:"rid,attr"`
		Type     string `xml:"type,attr"`
		Children []struct {
			XMLName xml.Name
		} `xml:",any"`
	}
	xml.Unmarshal(body, &b)
	rid, _ := strconv.ParseUint(b.RID, 10, 64)
	w.mu.Lock()
	w.seen = append(w.seen, seenRequest{rid: rid, empty: len(b.Children) == 0, terminate: b.Type == "terminate"})
	if b.Type != "terminate" {
		w.now++
		w.most = max(w.most, w.now)
	}
	close(w.arrived)
	w.arrived = make(chan struct{})
	w.mu.Unlock()
	w.h.ServeHTTP(rw, r)
	if b.Type != "terminate" {
		w.mu.Lock()
		w.now--
		w.mu.Unlock()
	}
}

// waitSeen waits until n requests have arrived and returns them.
func (w *watch) waitSeen(t *testing.T, ctx context.Context, n int) []seenRequest {
	t.Helper()
	for {
		w.mu.Lock()
		seen, ch := append([]seenRequest(nil), w.seen...), w.arrived
		w.mu.Unlock()
		if len(seen) >= n {
			return seen
		}
		select {
		case <-ch:
		case <-ctx.Done():
			t.Fatalf("only %d of %d requests arrived", len(seen), n)
		}
	}
}

// serve starts a test server with a bosh.Handler for up behind a watch.
func serve(t *testing.T, up bosh.Upstream, cfg bosh.Config) (*watch, string) {
	t.Helper()
	h, err := bosh.NewHandler(up, cfg)
	require.NoError(t, err)
	w := &watch{h: h, arrived: make(chan struct{})}
	mux := http.NewServeMux()
	mux.Handle("/http-bind", w)
	srv := httptest.NewServer(mux)
	t.Cleanup(func() {
		h.Shutdown(context.Background())
		srv.Close()
	})
	return w, srv.URL + "/http-bind"
}
