package main

import (
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strings"

	"github.com/httpbind/httpbind/bosh"
	"github.com/httpbind/httpbind/xmppstream/prebind"
)

// prebindEndpoint returns the handler of -prebind: prebind.Endpoint over
// h, whose authentication is HTTP Basic (RFC 7617) with the user's XMPP
// credentials, "user@domain" or "user" for the first -domain. The
// Prebinder logs in with them, so a wrong password is a 401 like a
// missing one. Every answer carries a WWW-Authenticate challenge, so
// that a browser asks for the credentials.
func prebindEndpoint(h *bosh.Handler, o *options, log *slog.Logger) (http.Handler, error) {
	p, err := prebind.New(prebind.Config{Handler: h, Path: o.path, Logger: log})
	if err != nil {
		return nil, err
	}
	ep := prebind.Endpoint(p, func(r *http.Request) (prebind.Request, error) {
		user, password, ok := r.BasicAuth()
		if !ok || user == "" {
			return prebind.Request{}, errors.New("no HTTP Basic credentials")
		}
		domain := o.domains[0]
		if local, d, found := strings.Cut(user, "@"); found {
			if !slices.Contains(o.domains, strings.ToLower(d)) {
				return prebind.Request{}, errors.New("a domain boshd does not serve")
			}
			user, domain = local, strings.ToLower(d)
		}
		return prebind.Request{Domain: domain, User: user, Password: password}, nil
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("WWW-Authenticate", `Basic realm="boshd", charset="UTF-8"`)
		ep.ServeHTTP(w, r)
	}), nil
}
