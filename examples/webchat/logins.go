package main

import (
	"crypto/rand"
	"net/http"
	"sync"
	"time"
)

// cookieName is the session cookie's name.
const cookieName = "webchat_session"

// loginLifetime is how long a login lasts.
const loginLifetime = 12 * time.Hour

// logins are the site's logged-in sessions: random tokens, kept in memory
// only, each naming a user. Safe for concurrent use.
type logins struct {
	mu   sync.Mutex
	byID map[string]login // guarded by mu
}

type login struct {
	user    string
	expires time.Time
}

func newLogins() *logins {
	return &logins{byID: make(map[string]login)}
}

// start records a login for user and sets its cookie: HttpOnly (scripts
// never see it), SameSite=Strict (no cross-site request carries it), and
// Secure over TLS.
func (l *logins) start(w http.ResponseWriter, r *http.Request, user string) {
	token := rand.Text()
	now := time.Now()
	l.mu.Lock()
	for id, s := range l.byID { // drop expired logins; the map stays small
		if now.After(s.expires) {
			delete(l.byID, id)
		}
	}
	l.byID[token] = login{user: user, expires: now.Add(loginLifetime)}
	l.mu.Unlock()
	http.SetCookie(w, &http.Cookie{
		Name: cookieName, Value: token, Path: "/",
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil,
		MaxAge: int(loginLifetime / time.Second),
	})
}

// user returns the user the request's cookie names, or "".
func (l *logins) user(r *http.Request) string {
	c, err := r.Cookie(cookieName)
	if err != nil {
		return ""
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	s, ok := l.byID[c.Value]
	if !ok || time.Now().After(s.expires) {
		return ""
	}
	return s.user
}

// end forgets the request's login and clears its cookie.
func (l *logins) end(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(cookieName); err == nil {
		l.mu.Lock()
		delete(l.byID, c.Value)
		l.mu.Unlock()
	}
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: "", Path: "/", HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil, MaxAge: -1})
}
