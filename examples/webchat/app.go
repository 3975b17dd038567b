package main

import (
	"errors"
	"html/template"
	"log/slog"
	"net/http"
	"os"

	"github.com/httpbind/httpbind/bosh"
	"github.com/httpbind/httpbind/xmppstream/prebind"
)

// app is the site: its accounts, its logins, its pages.
type app struct {
	// Set in run, then read-only.
	domain string
	users  accounts
	logins *logins
	assets string
	log    *slog.Logger
}

// routes returns the site's handler.
func (a *app) routes(h *bosh.Handler, p *prebind.Prebinder) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", a.loginForm)
	mux.HandleFunc("POST /{$}", a.login)
	mux.HandleFunc("GET /chat", a.chat)
	mux.HandleFunc("/logout", a.logout)
	mux.Handle("/prebind", prebind.Endpoint(p, a.prebindAuth))
	mux.Handle("/http-bind", h)
	mux.Handle("/assets/", http.StripPrefix("/assets/", a.assetsHandler()))
	return mux
}

// loginData fills loginPage.
type loginData struct{ User, Error string }

// loginForm serves the form, or sends a logged-in user to /chat.
func (a *app) loginForm(w http.ResponseWriter, r *http.Request) {
	if a.logins.user(r) != "" {
		http.Redirect(w, r, "/chat", http.StatusSeeOther)
		return
	}
	render(w, http.StatusOK, loginPage, loginData{})
}

// login checks the form against the site's accounts: a right password
// starts a login and redirects to /chat; a wrong one shows the form again
// with 401.
func (a *app) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 8<<10)
	user, password := r.PostFormValue("user"), r.PostFormValue("password")
	if !a.users.check(user, password) {
		a.log.Info("webchat: failed login", "user", user, "remote", r.RemoteAddr)
		render(w, http.StatusUnauthorized, loginPage, loginData{User: user, Error: "Wrong user name or password."})
		return
	}
	a.logins.start(w, r, user)
	a.log.Info("webchat: login", "user", user)
	http.Redirect(w, r, "/chat", http.StatusSeeOther)
}

// chatData fills chatPage.
type chatData struct{ User, JID string }

// chat serves converse.js to a logged-in user.
func (a *app) chat(w http.ResponseWriter, r *http.Request) {
	user := a.logins.user(r)
	if user == "" {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	render(w, http.StatusOK, chatPage, chatData{User: user, JID: user + "@" + a.domain})
}

// logout ends the login and goes back to the form.
func (a *app) logout(w http.ResponseWriter, r *http.Request) {
	a.logins.end(w, r)
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// errNoLogin is the prebind auth error of a request without a login.
var errNoLogin = errors.New("webchat: not logged in")

// prebindAuth is the site's authentication of /prebind: the login cookie.
// The XMPP password is the account's, known to the site only.
func (a *app) prebindAuth(r *http.Request) (prebind.Request, error) {
	user := a.logins.user(r)
	if user == "" {
		return prebind.Request{}, errNoLogin
	}
	return prebind.Request{Domain: a.domain, User: user, Password: a.users[user].xmpp}, nil
}

// assetsHandler serves the -assets directory, or a page saying how to
// install converse.js when it is missing.
func (a *app) assetsHandler() http.Handler {
	files := http.FileServer(http.Dir(a.assets))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := os.Stat(a.assets); err != nil {
			render(w, http.StatusNotFound, missingAssetsPage, a.assets)
			return
		}
		files.ServeHTTP(w, r)
	})
}

// render writes a page.
func render(w http.ResponseWriter, status int, t *template.Template, data any) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	t.Execute(w, data) // an error here is the client gone: nothing else to say
}
