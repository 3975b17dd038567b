package main

import (
	"crypto/rand"
	"crypto/subtle"

	"github.com/httpbind/httpbind/internal/userfile"
)

// account is one user of the site.
type account struct {
	name     string
	password string // the site's password, checked by the login form
	xmpp     string // the XMPP password, random, never shown
}

// accounts are the site's users by name; read-only after loadAccounts.
type accounts map[string]*account

// check reports whether password is name's, in constant time for a known
// name.
func (as accounts) check(name, password string) bool {
	a := as[name]
	if a == nil {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(a.password), []byte(password)) == 1
}

// loadAccounts reads -users, or makes the demo accounts alice and bob with
// fresh passwords. Every account gets a random XMPP password.
func loadAccounts(file string) ([]*account, error) {
	if file == "" {
		return []*account{
			{name: "alice", password: rand.Text()[:12], xmpp: rand.Text()},
			{name: "bob", password: rand.Text()[:12], xmpp: rand.Text()},
		}, nil
	}
	read, err := userfile.Load(file)
	if err != nil {
		return nil, err
	}
	list := make([]*account, len(read))
	for i, a := range read {
		list[i] = &account{name: a.Name, password: a.Password, xmpp: rand.Text()}
	}
	return list, nil
}
