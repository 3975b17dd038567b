package xmpptest

import (
	"context"
	"encoding/base64"
	"encoding/xml"
	"testing"

	"github.com/httpbind/httpbind/bosh"
	"github.com/httpbind/httpbind/xmppstream"
	"github.com/httpbind/httpbind/xmppstream/memcore"
)

// discardSink is a bosh.Sink that counts and drops what a stream gives.
type discardSink struct{ n int }

func (s *discardSink) Deliver(p ...[]byte) bool { s.n += len(p); return true }
func (s *discardSink) SetAttrs(...bosh.Attr)    {}
func (s *discardSink) End(error)                {}

// BenchmarkServerRouteMessage: one chat message to a full JID, from a
// client's request through xmppstream.Server (the stanza's checks and
// 'from' stamping, XEP-0206 §2) and the core to the recipient's sink:
// the inbound path after package bosh, with memcore as the Core.
func BenchmarkServerRouteMessage(b *testing.B) {
	ctx := context.Background()
	c, err := memcore.New(memcore.Config{Domain: "example.com"})
	if err != nil {
		b.Fatal(err)
	}
	srv, err := xmppstream.NewServer(c, xmppstream.ServerConfig{Domains: []string{"example.com"}})
	if err != nil {
		b.Fatal(err)
	}
	restart := []xml.Attr{{Name: xml.Name{Space: bosh.NSXBOSH, Local: "restart"}, Value: "true"}}
	open := func(user string) (bosh.Stream, *discardSink) {
		if err := c.AddUser(user, "pw"); err != nil {
			b.Fatal(err)
		}
		k := &discardSink{}
		st, err := srv.Open(ctx, &bosh.OpenRequest{To: "example.com", Version: "1.11", SID: user}, k)
		if err != nil {
			b.Fatal(err)
		}
		for _, r := range []*bosh.Request{
			{Payloads: [][]byte{[]byte("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>" +
				base64.StdEncoding.EncodeToString([]byte("\x00"+user+"\x00pw")) + "</auth>")}},
			{Attrs: restart},
			{Payloads: [][]byte{[]byte("<iq type='set' id='b'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>desk</resource></bind></iq>")}},
			{Payloads: [][]byte{[]byte("<presence/>")}},
		} {
			if err := st.Send(ctx, r); err != nil {
				b.Fatal(err)
			}
		}
		return st, k
	}
	alice, _ := open("alice")
	_, bob := open("bob")
	req := &bosh.Request{Payloads: [][]byte{[]byte("<message to='bob@example.com/desk' type='chat' id='m1'><body>hello bob</body></message>")}}
	before := bob.n
	b.ReportAllocs()
	for b.Loop() {
		if err := alice.Send(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
	if bob.n-before < b.N {
		b.Fatalf("bob got %d of %d messages", bob.n-before, b.N)
	}
}
