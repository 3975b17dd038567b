package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseFlagsPrebind(t *testing.T) {
	prebindIs := func(want string) func(t *testing.T, o *options) {
		return func(t *testing.T, o *options) { assert.Equal(t, want, o.prebind) }
	}
	runFlagCases(t, []flagCase{
		{name: "default: off", args: nil, check: prebindIs("")},
		{name: "a path", args: []string{"-prebind", "/prebind"}, check: prebindIs("/prebind")},
		{name: "not a path", args: []string{"-prebind", "prebind"}, error: "-prebind"},
		{name: "the BOSH path", args: []string{"-prebind", "/http-bind"}, error: "-prebind"},
		{name: "the vars path", args: []string{"-prebind", "/debug/vars"}, error: "-prebind"},
	})
}

func TestPrebindEndpoint(t *testing.T) {
	d := start(t, "-prebind", "/prebind")
	alice := d.accounts["alice"]
	require.NotEmpty(t, alice)
	tests := []struct {
		name       string
		user, pass string // "" user: no Authorization header
		method     string
		wantStatus int
		wantJID    string // prefix of the bound JID
	}{
		{name: "user and password, GET", user: "alice", pass: alice, method: http.MethodGet, wantStatus: http.StatusOK, wantJID: "alice@localhost/"},
		{name: "user@domain, POST", user: "alice@localhost", pass: alice, method: http.MethodPost, wantStatus: http.StatusOK, wantJID: "alice@localhost/"},
		{name: "wrong password: 401", user: "alice", pass: "wrong", method: http.MethodGet, wantStatus: http.StatusUnauthorized},
		{name: "no credentials: 401", method: http.MethodGet, wantStatus: http.StatusUnauthorized},
		{name: "a domain not served: 401", user: "alice@example.org", pass: alice, method: http.MethodGet, wantStatus: http.StatusUnauthorized},
		{name: "DELETE: 405", user: "alice", pass: alice, method: http.MethodDelete, wantStatus: http.StatusMethodNotAllowed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := testContext(t)
			req, err := http.NewRequestWithContext(ctx, tt.method, d.base+"/prebind", nil)
			require.NoError(t, err)
			if tt.user != "" {
				req.SetBasicAuth(tt.user, tt.pass)
			}
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			require.Equal(t, tt.wantStatus, resp.StatusCode, "%s", body)
			assert.Equal(t, "application/json", resp.Header.Get("Content-Type"))
			assert.Contains(t, resp.Header.Get("WWW-Authenticate"), `Basic realm="boshd"`)
			assert.NotContains(t, string(body), alice, "no password in the answer")
			if tt.wantStatus != http.StatusOK {
				return
			}
			var s struct {
				JID string `json:"jid"`
				SID string `json:"sid"`
				RID uint64 `json:"rid"`
			}
			require.NoError(t, json.Unmarshal(body, &s))
			assert.True(t, strings.HasPrefix(s.JID, tt.wantJID), s.JID)

			// Continue the session from the returned rid, as attach() does.
			ping := fmt.Sprintf("<body rid='%d' sid='%s' xmlns='http://jabber.org/protocol/httpbind'>"+
				"<iq type='get' id='ping1' xmlns='jabber:client'><ping xmlns='urn:xmpp:ping'/></iq></body>", s.RID, s.SID)
			r2, err := http.Post(d.url, "text/xml; charset=utf-8", strings.NewReader(ping))
			require.NoError(t, err)
			defer r2.Body.Close()
			got, err := io.ReadAll(r2.Body)
			require.NoError(t, err)
			assert.Contains(t, string(got), "id='ping1'")
			assert.Contains(t, string(got), "type='result'")
			assert.Contains(t, string(got), "to='"+s.JID+"'")
		})
	}
}
