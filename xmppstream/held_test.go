package xmppstream

import (
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestHeldRequestNamespaceWellFormed: with a request held (hold='1', the
// usual client), the restart's <stream:features/> and a <stream:error/>
// still reach the client namespace-well-formed (XEP-0206 §2), whichever body the engine puts them in.
func TestHeldRequestNamespaceWellFormed(t *testing.T) {
	for _, tc := range []struct {
		name    string
		payload string
		want    string // {space}local of the expected child
	}{
		{"restart features", "", "{" + nsStream + "}features"},
		{"stream error", "<message to='romeo@example.net'/>", "{" + nsStream + "}error"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h := newHarness(t, ServerConfig{})
				r := h.post("<body content='text/xml; charset=utf-8' hold='1' rid='1000' ver='1.6' wait='60' xmlns='" +
					nsHTTPBind + "' " + defaultCreate + "/>")
				s := &session{h: h, rid: 1000}
				s.sid, _ = r.attr("", "sid")
				r = s.authPlain(testUser, testPass)
				require.NotEmpty(t, r.child(nsSASL, "success"), r.raw)

				s.rid++
				rid := s.rid
				held := make(chan *reply, 1)
				go func() {
					held <- h.post("<body rid='" + itoa(rid) + "' sid='" + s.sid + "' xmlns='" + nsHTTPBind + "'/>")
				}()
				synctest.Wait()
				var last *reply
				if tc.payload == "" {
					last = s.restart()
				} else {
					last = s.send("", tc.payload)
				}
				first := <-held // parseReply checked both are namespace-well-formed
				found := false
				for _, r := range []*reply{first, last} {
					for _, n := range r.names {
						found = found || n == tc.want
					}
				}
				assert.True(t, found, "%s\n%s", first.raw, last.raw)
			})
		})
	}
}
