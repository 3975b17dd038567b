package prebind_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/httpbind/httpbind/bosh"
	"github.com/httpbind/httpbind/xmppstream/prebind"
	"github.com/httpbind/httpbind/xmppstream/xmpptest"
)

// headerAuth is a toy host authentication: the X-User header names the
// user, whose XMPP password the host knows.
func headerAuth(r *http.Request) (prebind.Request, error) {
	passwords := map[string]string{"alice": "wonderland", "eve": "wrong"}
	user := r.Header.Get("X-User")
	switch {
	case user == "blocked":
		return prebind.Request{}, prebind.ErrForbidden
	case passwords[user] == "":
		return prebind.Request{}, errors.New("no such user")
	}
	return prebind.Request{Domain: "localhost", User: user, Password: passwords[user], Resource: "web"}, nil
}

func TestEndpoint(t *testing.T) {
	tests := []struct {
		name       string
		method     string
		user       string
		wantStatus int
		wantError  string // the JSON error, for failures
	}{
		{name: "GET, as converse.js does", method: http.MethodGet, user: "alice", wantStatus: http.StatusOK},
		{name: "POST", method: http.MethodPost, user: "alice", wantStatus: http.StatusOK},
		{name: "not authenticated by the host: 401, no session", method: http.MethodGet, user: "", wantStatus: http.StatusUnauthorized, wantError: "unauthorized"},
		{name: "forbidden by the host: 403, no session", method: http.MethodGet, user: "blocked", wantStatus: http.StatusForbidden, wantError: "forbidden"},
		{name: "XMPP login refused: 401 not-authorized (RFC 6120 §6.5.10)", method: http.MethodGet, user: "eve", wantStatus: http.StatusUnauthorized, wantError: "not-authorized"},
		{name: "PUT: 405", method: http.MethodPut, user: "alice", wantStatus: http.StatusMethodNotAllowed, wantError: "method not allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, _ := newServer(t, xmpptest.Config{})
			require.NoError(t, srv.Core.AddUser("eve", "eve's real password"))
			p, err := prebind.New(prebind.Config{Handler: srv.Handler})
			require.NoError(t, err)
			before := srv.Handler.Stats()

			r := httptest.NewRequest(tt.method, "/prebind", nil)
			r.Header.Set("Accept", "application/json, text/javascript")
			if tt.user != "" {
				r.Header.Set("X-User", tt.user)
			}
			w := httptest.NewRecorder()
			prebind.Endpoint(p, headerAuth).ServeHTTP(w, r)

			assert.Equal(t, tt.wantStatus, w.Code, w.Body.String())
			assert.Equal(t, "application/json", w.Header().Get("Content-Type"))
			assert.Equal(t, "no-store", w.Header().Get("Cache-Control"))
			var got map[string]any
			require.NoError(t, json.Unmarshal(w.Body.Bytes(), &got), w.Body.String())
			after := srv.Handler.Stats()
			if tt.wantStatus != http.StatusOK {
				assert.Equal(t, map[string]any{"error": tt.wantError}, got)
				assert.Equal(t, before.Sessions, waitSessions(srv.Handler, before.Sessions), "no session left")
				if tt.wantError != "not-authorized" {
					assert.Equal(t, before.Requests, after.Requests, "no BOSH request made")
				}
				if tt.method == http.MethodPut {
					assert.Equal(t, "GET, POST", w.Header().Get("Allow"))
				}
				return
			}
			// Exactly the three members converse.js reads, rid a JSON number.
			require.Len(t, got, 3)
			assert.Equal(t, "alice@localhost/web", got["jid"])
			assert.IsType(t, "", got["sid"])
			assert.IsType(t, float64(0), got["rid"])
			var s prebind.Session
			require.NoError(t, json.Unmarshal(w.Body.Bytes(), &s))
			assert.Less(t, s.RID, uint64(1)<<53, "rid exact in JavaScript (XEP-0124 §14.1)")
			assert.Equal(t, before.Sessions+1, after.Sessions)

			// The session is live at the returned rid.
			b := &browser{url: srv.URL, sid: s.SID, rid: s.RID}
			resp := b.post(testContext(t), t, "<iq type='get' id='ping' xmlns='jabber:client'><ping xmlns='urn:xmpp:ping'/></iq>")
			assert.Contains(t, resp, "id='ping'")
			assert.Contains(t, resp, "type='result'")
		})
	}
}

func TestEndpointRemoteAddr(t *testing.T) {
	// Endpoint passes the browser's address on: two users behind
	// different addresses are counted apart, one address is limited.
	srv, err := xmpptest.NewServer(xmpptest.Config{Handler: bosh.Config{MaxSessionsPerAddress: 1}})
	require.NoError(t, err)
	t.Cleanup(srv.Close)
	require.NoError(t, srv.Core.AddUser("alice", "wonderland"))
	p, err := prebind.New(prebind.Config{Handler: srv.Handler})
	require.NoError(t, err)
	ep := prebind.Endpoint(p, headerAuth)
	get := func(addr string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodGet, "/prebind", nil)
		r.RemoteAddr = addr
		r.Header.Set("X-User", "alice")
		w := httptest.NewRecorder()
		ep.ServeHTTP(w, r)
		return w
	}
	assert.Equal(t, http.StatusOK, get("192.0.2.1:1000").Code)
	assert.Equal(t, http.StatusOK, get("192.0.2.2:1000").Code)
	w := get("192.0.2.1:2000")
	assert.Equal(t, http.StatusServiceUnavailable, w.Code, "the connection manager is busy for this address")
	assert.Equal(t, "5", w.Header().Get("Retry-After"))
	assert.JSONEq(t, `{"error":"service unavailable"}`, w.Body.String())
	assert.True(t, strings.HasPrefix(w.Header().Get("Content-Type"), "application/json"))
}
