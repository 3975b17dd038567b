package prebind_test

import (
	"crypto/tls"
	"encoding/xml"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"mellium.im/sasl"

	"github.com/httpbind/httpbind/bosh"
	"github.com/httpbind/httpbind/internal/prosodytest"
	"github.com/httpbind/httpbind/xmppstream"
	"github.com/httpbind/httpbind/xmppstream/prebind"
)

// TestProsody prebinds through xmppstream.TCPUpstream to a real Prosody
// (skipped where Prosody is not installed, failing under CI=true like
// internal/interop): the Prebinder is just a BOSH client, whatever runs
// behind the handler.
func TestProsody(t *testing.T) {
	const domain = "example.test"
	ps := prosodytest.Start(t, prosodytest.Config{Domain: domain})
	ps.Register("alice", "alice pässword")
	ps.Register("bob", "bob password")
	up, err := xmppstream.NewTCPUpstream(xmppstream.TCPConfig{
		Addr:       ps.C2SAddr,
		Domains:    []string{domain},
		TLSConfig:  &tls.Config{RootCAs: ps.CAPool},
		RequireTLS: true,
	})
	require.NoError(t, err)
	h, err := bosh.NewHandler(up, bosh.Config{})
	require.NoError(t, err)
	srv := httptest.NewServer(h)
	t.Cleanup(func() {
		h.Shutdown(t.Context())
		srv.Close()
	})

	tests := []struct {
		name     string
		mech     sasl.Mechanism
		password string
		wantErr  error
	}{
		{name: "PLAIN, then messages both ways", mech: sasl.Plain, password: "alice pässword"},
		{name: "SCRAM-SHA-1, then messages both ways", mech: sasl.ScramSha1, password: "alice pässword"},
		{name: "wrong password: not-authorized, session terminated", mech: sasl.Plain, password: "nope", wantErr: prebind.ErrAuth},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := testContext(t)
			p, err := prebind.New(prebind.Config{Handler: h, Mechanism: tt.mech})
			require.NoError(t, err)
			before := h.Stats().Sessions
			s, err := p.Prebind(ctx, prebind.Request{Domain: domain, User: "alice", Password: tt.password, Resource: "web"})
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				var e *prebind.Error
				require.ErrorAs(t, err, &e)
				assert.Equal(t, "not-authorized", e.SASL)
				assert.Equal(t, before, waitSessions(h, before), "no session left")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, "alice@"+domain+"/web", s.JID)
			assert.Zero(t, h.Stats().Held, "no request left held")

			bob, err := prosodytest.Dial(ctx, ps.C2SAddr, domain, "bob", "bob password", ps.CAPool, "")
			require.NoError(t, err)
			defer bob.Close()
			b := &browser{url: srv.URL, sid: s.SID, rid: s.RID}
			hello := fmt.Sprintf("<message to='%s' type='chat' xmlns='jabber:client'><body>hello bob</body></message>", bob.JID())
			got := b.exchange(ctx, t, hello, func() {
				for range 20 {
					el, err := bob.Next(ctx)
					require.NoError(t, err)
					var m struct {
						XMLName xml.Name
						From    string `xml:"from,attr"`
						Body    string `xml:"body"`
					}
					if xml.Unmarshal(el, &m) != nil || m.XMLName.Local != "message" {
						continue
					}
					assert.Equal(t, s.JID, m.From)
					assert.Equal(t, "hello bob", m.Body)
					break
				}
				require.NoError(t, bob.Send(fmt.Appendf(nil, "<message to='%s' type='chat'><body>hi alice</body></message>", s.JID)))
			})
			assert.Equal(t, []string{"hi alice"}, got)
			assert.True(t, strings.HasPrefix(bob.JID(), "bob@"+domain+"/"))
		})
	}
}
