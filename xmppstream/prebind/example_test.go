package prebind_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"

	"github.com/httpbind/httpbind/bosh"
	"github.com/httpbind/httpbind/xmppstream"
	"github.com/httpbind/httpbind/xmppstream/memcore"
	"github.com/httpbind/httpbind/xmppstream/prebind"
)

// A host application serves BOSH at /http-bind and the prebind endpoint
// next to it. Its own authentication (here a toy session cookie) decides
// who the user is; the XMPP password stays on the server. The page then
// runs converse.initialize({authentication: 'prebind', prebind_url:
// '/prebind', bosh_service_url: '/http-bind', auto_login: true, …}).
func ExampleEndpoint() {
	core, err := memcore.New(memcore.Config{Domain: "example.com"})
	if err != nil {
		log.Fatal(err)
	}
	core.AddUser("juliet", "xmpp-secret")
	up, err := xmppstream.NewServer(core, xmppstream.ServerConfig{Domains: []string{"example.com"}})
	if err != nil {
		panic(err)
	}
	h, err := bosh.NewHandler(up, bosh.Config{})
	if err != nil {
		panic(err)
	}
	defer h.Shutdown(context.Background()) // before the http.Server's Shutdown
	p, err := prebind.New(prebind.Config{Handler: h})
	if err != nil {
		panic(err)
	}
	sessions := map[string]string{"cookie-token-1": "juliet"} // the host's logged-in users
	auth := func(r *http.Request) (prebind.Request, error) {
		c, err := r.Cookie("session")
		if err != nil || sessions[c.Value] == "" {
			return prebind.Request{}, errors.New("not logged in")
		}
		return prebind.Request{Domain: "example.com", User: sessions[c.Value], Password: "xmpp-secret", Resource: "web"}, nil
	}
	mux := http.NewServeMux()
	mux.Handle("/http-bind", h)
	mux.Handle("/prebind", prebind.Endpoint(p, auth))

	// What converse.js does: GET prebind_url, then attach(jid, sid, rid).
	for _, cookie := range []string{"", "cookie-token-1"} {
		r := httptest.NewRequest(http.MethodGet, "/prebind", nil)
		if cookie != "" {
			r.AddCookie(&http.Cookie{Name: "session", Value: cookie})
		}
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, r)
		var s prebind.Session
		json.Unmarshal(w.Body.Bytes(), &s)
		fmt.Println(w.Code, w.Header().Get("Content-Type"), s.JID, s.SID != "", s.RID > 0)
	}
	// Output:
	// 401 application/json  false false
	// 200 application/json juliet@example.com/web true true
}
