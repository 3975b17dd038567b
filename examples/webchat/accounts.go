package main

import (
	"bufio"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
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
	var list []*account
	if file == "" {
		list = []*account{{name: "alice", password: rand.Text()[:12]}, {name: "bob", password: rand.Text()[:12]}}
	} else {
		f, err := os.Open(file)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		if list, err = parseUsers(f, file); err != nil {
			return nil, err
		}
	}
	for _, a := range list {
		a.xmpp = rand.Text()
	}
	return list, nil
}

// parseUsers reads accounts, one "name:password" a line, like boshd's
// -users: the password is everything after the first colon; blank lines
// and lines starting with '#' are skipped. A malformed line or a repeated
// name is an error naming the line.
func parseUsers(r io.Reader, file string) ([]*account, error) {
	var out []*account
	seen := make(map[string]int)
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, password, ok := strings.Cut(line, ":")
		switch {
		case !ok:
			return nil, fmt.Errorf("%s:%d: want name:password", file, n)
		case name == "" || password == "":
			return nil, fmt.Errorf("%s:%d: empty name or password", file, n)
		case seen[name] > 0:
			return nil, fmt.Errorf("%s:%d: %q already defined on line %d", file, n, name, seen[name])
		}
		seen[name] = n
		out = append(out, &account{name: name, password: password})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	if len(out) == 0 {
		return nil, errors.New(file + ": no accounts")
	}
	return out, nil
}
