package memcore

import (
	"context"
	"encoding/base64"
	"encoding/xml"
	"testing"

	"github.com/httpbind/httpbind/bosh"
	"github.com/httpbind/httpbind/xmppstream"
)

// sinkClient is an xmppstream.Client that counts and drops deliveries.
type sinkClient struct {
	jid xmppstream.JID
	n   int
}

func (s *sinkClient) JID() xmppstream.JID             { return s.jid }
func (s *sinkClient) Deliver(b []byte) bool           { s.n++; return true }
func (s *sinkClient) Kick(xmppstream.StreamCondition) {}

// BenchmarkRouteMessage: the core's routing of one chat message between
// two bound, available clients, to the bare JID (RFC 6121 §8.5.2.1.1) and
// to the full JID — the per-message work of the in-memory core behind
// every delivered message of the load runs.
func BenchmarkRouteMessage(b *testing.B) {
	for _, tc := range []struct{ name, to string }{
		{"bare JID", "bob@example.com"},
		{"full JID", "bob@example.com/desk"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			c := mustNew(b, Config{Domain: "example.com"})
			ctx := context.Background()
			clients := map[string]*sinkClient{}
			for _, u := range []string{"alice", "bob"} {
				if err := c.AddUser(u, "pw"); err != nil {
					b.Fatal(err)
				}
				f := &sinkClient{}
				j, err := c.Bind(ctx, f, xmppstream.JID{Local: u, Domain: "example.com"}, "desk")
				if err != nil {
					b.Fatal(err)
				}
				f.jid = j
				if err := c.StartSession(ctx, f); err != nil {
					b.Fatal(err)
				}
				pres, err := buildStanza(j, "<presence/>")
				if err != nil {
					b.Fatal(err)
				}
				c.Route(ctx, f, pres)
				clients[u] = f
			}
			st, err := buildStanza(clients["alice"].jid,
				"<message to='"+tc.to+"' type='chat' id='m1'><body>hello bob</body></message>")
			if err != nil {
				b.Fatal(err)
			}
			before := clients["bob"].n
			b.ReportAllocs()
			for b.Loop() {
				c.Route(ctx, clients["alice"], st)
			}
			if clients["bob"].n-before < b.N {
				b.Fatalf("bob got %d of %d messages", clients["bob"].n-before, b.N)
			}
		})
	}
}

// discardSink is a bosh.Sink that counts and drops what a stream gives.
type discardSink struct{ n int }

func (s *discardSink) Deliver(p ...[]byte) bool { s.n += len(p); return true }
func (s *discardSink) SetAttrs(...bosh.Attr)    {}
func (s *discardSink) End(error)                {}

// BenchmarkServerRouteMessage: one chat message to a full JID, from a
// client's request through xmppstream.Server (the stanza's checks and
// 'from' stamping, XEP-0206 §2) and the core to the recipient's sink:
// the inbound path after package bosh.
func BenchmarkServerRouteMessage(b *testing.B) {
	ctx := context.Background()
	c := mustNew(b, Config{Domain: "example.com"})
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
