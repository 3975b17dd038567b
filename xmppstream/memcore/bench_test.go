package memcore

import (
	"context"
	"testing"

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
