package xmppstream

import (
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"strconv"
	"sync"

	"mellium.im/sasl"
)

// fakeCore is a Core that records what the Server asks of it.
type fakeCore struct {
	mu sync.Mutex
	// Configuration, set before use.
	users      map[string]Credentials // by username, for every domain
	credsErr   error                  // returned by Credentials when set
	conflicts  map[string]bool        // resources that get ErrConflict
	bindErr    error                  // returned by Bind when set
	sessionErr error                  // returned by StartSession when set
	onRoute    func(Client)           // called by Route, without the lock
	unbindGate chan struct{}          // when set, Unbind waits for it to close
	// Records.
	routed   []*Stanza
	bound    []JID
	clients  []Client
	sessions int
	unbound  []unbindCall
	gen      int
}

type unbindCall struct {
	jid         JID
	undelivered [][]byte
}

func newFakeCore() *fakeCore {
	return &fakeCore{users: make(map[string]Credentials), conflicts: make(map[string]bool)}
}

// addPlain adds a user known by its password.
func (c *fakeCore) addPlain(user, password string) {
	c.users[user] = Credentials{Password: password}
}

// addSalted adds a user known only by SCRAM salted passwords.
func (c *fakeCore) addSalted(user, password string) {
	salt := []byte("0123456789abcdef")
	c.users[user] = Credentials{Salted: map[string]SaltedPassword{
		MechScramSHA1:   {Salt: salt, Iterations: 4096, Hash: sasl.SCRAMSaltPassword(sha1.New, []byte(password), salt, 4096)},
		MechScramSHA256: {Salt: salt, Iterations: 4096, Hash: sasl.SCRAMSaltPassword(sha256.New, []byte(password), salt, 4096)},
	}}
}

func (c *fakeCore) Credentials(ctx context.Context, domain, username string) (Credentials, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.credsErr != nil {
		return Credentials{}, c.credsErr
	}
	cr, ok := c.users[username]
	if !ok {
		return Credentials{}, ErrNoAccount
	}
	return cr, nil
}

func (c *fakeCore) Bind(ctx context.Context, cl Client, user JID, resource string) (JID, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.bindErr != nil {
		return JID{}, c.bindErr
	}
	if c.conflicts[resource] {
		return JID{}, ErrConflict
	}
	if resource == "" {
		c.gen++
		resource = "gen" + strconv.Itoa(c.gen)
	}
	full := JID{Local: user.Local, Domain: user.Domain, Resource: resource}
	c.bound = append(c.bound, full)
	c.clients = append(c.clients, cl)
	return full, nil
}

func (c *fakeCore) StartSession(ctx context.Context, cl Client) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sessions++
	return c.sessionErr
}

func (c *fakeCore) Route(ctx context.Context, from Client, st *Stanza) {
	c.mu.Lock()
	c.routed = append(c.routed, st)
	hook := c.onRoute
	c.mu.Unlock()
	if hook != nil {
		hook(from)
	}
}

func (c *fakeCore) Unbind(cl Client, undelivered [][]byte) {
	c.mu.Lock()
	gate := c.unbindGate
	c.mu.Unlock()
	if gate != nil {
		<-gate
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.unbound = append(c.unbound, unbindCall{jid: cl.JID(), undelivered: undelivered})
}

func (c *fakeCore) routes() []*Stanza {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*Stanza(nil), c.routed...)
}

func (c *fakeCore) unbinds() []unbindCall {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]unbindCall(nil), c.unbound...)
}

func (c *fakeCore) client(i int) Client {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.clients[i]
}
