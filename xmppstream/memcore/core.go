package memcore

import (
	"context"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"mellium.im/sasl"

	"github.com/httpbind/httpbind/xmppstream"
)

// ConflictPolicy says what happens when a client binds a resource another
// client holds (RFC 6120 §7.7.2.2) or starts a session while another
// client is active under the same full JID (RFC 3921 §3).
type ConflictPolicy int

const (
	// ReplaceOld, the zero value, ends the old client: its stream gets a
	// "conflict" stream error (RFC 6120 §4.9.3.3) and the new one gets
	// the resource.
	ReplaceOld ConflictPolicy = iota
	// RefuseNew keeps the old client: Bind returns
	// xmppstream.ErrConflict and StartSession a conflict stanza error
	// (type cancel); the new client's stream stays open so it can bind
	// another resource.
	RefuseNew
)

// Config configures a Core. The zero Config is usable.
type Config struct {
	// Domain is the domainpart the core serves (RFC 7622 §3.2); it is
	// prepared like a JID's domainpart. Default "localhost". New refuses
	// when it is not a valid domainpart.
	Domain string
	// Policy is the resource conflict policy. Default ReplaceOld. New
	// refuses a value other than ReplaceOld or RefuseNew.
	Policy ConflictPolicy
	// Logger receives debug logs of binds and routing decisions (never
	// passwords or stanza contents). Default: logs are discarded.
	Logger *slog.Logger
	// DigestMD5 makes AddUser also keep each account's DIGEST-MD5
	// credential (xmppstream.DigestMD5Credential), which a Server
	// offering DIGEST-MD5 checks the client's response with (RFC 2831
	// §2.1.2.1). Default false. Its cost: the credential is an unsalted
	// MD5 of the name, domain and password, a password equivalent for the
	// domain; whoever reads it can log in with DIGEST-MD5, and guess the
	// password at MD5 speed rather than through SCRAM's 4096 iterations.
	DigestMD5 bool
	// KeepPasswords makes AddUser keep each password itself, which
	// non-SASL authentication's digest (XEP-0078 §3: the SHA-1 of the
	// stream id and the password) needs, and which makes PLAIN checks
	// cheap. Default false: an account keeps only its SCRAM salted
	// passwords (and the DIGEST-MD5 credential, see DigestMD5), and PLAIN
	// is checked by salting and hashing the password given, 4096
	// iterations each time. Its cost: whoever reads the core's memory
	// reads every password.
	KeepPasswords bool
	// SessionHook, when set, is asked by StartSession whether the client
	// with the given full JID may start its IM session (RFC 3921 §3). A
	// *xmppstream.StanzaError it returns (such as forbidden, type auth) is
	// returned as is; any other error becomes internal-server-error, type
	// wait. It is called concurrently, without the core's lock held, and
	// must not call the core. Default: every session is allowed.
	SessionHook func(jid xmppstream.JID) error
}

// SCRAM parameters of AddUser (RFC 5802 §5.1, RFC 7677 §4).
const (
	scramIterations = 4096
	saltSize        = 16
)

// maxOffline bounds each account's offline storage (XEP-0160 §3); a message
// beyond it is bounced with service-unavailable.
const maxOffline = 1000

// ErrUserExists is returned by AddUser for a name already taken.
var ErrUserExists = errors.New("memcore: user exists")

// Core is an in-memory XMPP core: accounts, resource binding, message
// routing with offline storage (RFC 6121 §8.5, XEP-0160), presence,
// subscriptions and the roster (RFC 6121 §2–§4), and the few server iqs a
// web client needs. Create it with New; it implements xmppstream.Core and
// all its methods are safe for concurrent use.
//
// Clients passed to the core must be comparable (pointers, in practice):
// the core tells a client from the one that replaced it by ==.
type Core struct {
	// Set in New, then read-only.
	domain string
	policy ConflictPolicy
	digest bool // Config.DigestMD5
	keep   bool // Config.KeepPasswords
	log    *slog.Logger
	hook   func(xmppstream.JID) error
	now    func() time.Time // clock for delay stamps; tests replace it before use

	// mu guards the state below and everything reachable from it: the
	// accounts' resources, rosters, pending requests and offline stores.
	// It is held briefly and never while calling a Client's Deliver or
	// Kick: routing collects deliveries in an outbox under mu, unlocks,
	// then delivers (see flush).
	mu       sync.Mutex
	accounts map[string]*account // by prepared localpart
	// retired are clients the core unbound on its own (kicked or gone)
	// and has not heard of through Unbind yet; they may not take their
	// resource back (StartSession).
	retired []xmppstream.Client
}

// account is one user. name, jid and creds are set in AddUser, then
// read-only; the rest is guarded by Core.mu.
type account struct {
	name  string
	jid   xmppstream.JID // bare
	creds xmppstream.Credentials

	resources map[string]*resource     // bound resources by resourcepart
	roster    map[xmppstream.JID]*item // by contact bare JID
	pendingIn []pending                // inbound subscription requests, oldest first (RFC 6121 §3.1.3)
	offline   [][]byte                 // stored stanzas, oldest first (XEP-0160)
}

// resource is one bound client; guarded by Core.mu.
type resource struct {
	client     xmppstream.Client
	jid        xmppstream.JID // full
	active     bool           // session established (RFC 3921 §3)
	available  bool           // sent available presence, not since unavailable (RFC 6121 §4.2)
	priority   int            // from its last available presence (RFC 6121 §4.7.2.3)
	presence   *elem          // its last broadcast available presence, without 'to'
	interested bool           // requested the roster (RFC 6121 §2.1.6)
	directed   map[xmppstream.JID]bool
}

// New returns an empty core for cfg.Domain, or an error naming the field
// of an invalid Config.
func New(cfg Config) (*Core, error) {
	if cfg.Domain == "" {
		cfg.Domain = "localhost"
	}
	d, err := xmppstream.NewJID("", cfg.Domain, "")
	if err != nil {
		return nil, fmt.Errorf("memcore: Config.Domain %q: %w", cfg.Domain, err)
	}
	if cfg.Policy != ReplaceOld && cfg.Policy != RefuseNew {
		return nil, fmt.Errorf("memcore: Config.Policy %d is not ReplaceOld or RefuseNew", cfg.Policy)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Core{
		domain:   d.Domain,
		policy:   cfg.Policy,
		digest:   cfg.DigestMD5,
		keep:     cfg.KeepPasswords,
		log:      cfg.Logger,
		hook:     cfg.SessionHook,
		now:      time.Now,
		accounts: make(map[string]*account),
	}, nil
}

// Domain returns the prepared domain the core serves.
func (c *Core) Domain() string { return c.domain }

// AddUser creates the account name@Domain. The name is prepared with the
// PRECIS UsernameCaseMapped profile (RFC 7622 §3.3). The password is
// stored as SCRAM-SHA-1 and SCRAM-SHA-256 salted passwords (RFC 5802 §3,
// RFC 7677) with a fresh random salt and 4096 iterations, which serve
// PLAIN too; as the DIGEST-MD5 credential when Config.DigestMD5 is set;
// and as given only when Config.KeepPasswords is set. It returns
// ErrUserExists for a taken name and xmppstream.ErrJID for a name that is
// not a valid localpart.
func (c *Core) AddUser(name, password string) error {
	j, err := xmppstream.NewJID(name, c.domain, "")
	if err != nil || j.Local == "" {
		return xmppstream.ErrJID
	}
	if password == "" {
		return errors.New("memcore: empty password")
	}
	creds := xmppstream.Credentials{Salted: make(map[string]xmppstream.SaltedPassword)}
	for mech, fn := range map[string]func() hash.Hash{"SCRAM-SHA-1": sha1.New, "SCRAM-SHA-256": sha256.New} {
		creds.Salted[mech] = saltPassword(fn, password)
	}
	if c.digest {
		creds.DigestMD5 = xmppstream.DigestMD5Credential(j.Local, c.domain, password)
	}
	if c.keep {
		creds.Password = password
	}
	return c.addAccount(j, creds)
}

// addAccount adds the account of bare JID j.
func (c *Core) addAccount(j xmppstream.JID, creds xmppstream.Credentials) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.accounts[j.Local] != nil {
		return ErrUserExists
	}
	c.accounts[j.Local] = &account{
		name:      j.Local,
		jid:       j,
		creds:     creds,
		resources: make(map[string]*resource),
		roster:    make(map[xmppstream.JID]*item),
	}
	return nil
}

// saltPassword computes a SCRAM salted password with a fresh random salt.
func saltPassword(fn func() hash.Hash, password string) xmppstream.SaltedPassword {
	salt := make([]byte, saltSize)
	rand.Read(salt) // never returns an error (crypto/rand)
	return xmppstream.SaltedPassword{Salt: salt, Iterations: scramIterations, Hash: hi(fn, password, salt, scramIterations)}
}

// hi is SaltedPassword := Hi(password, salt, i) (RFC 5802 §2.2, §3), as
// mellium.im/sasl's SCRAM server checks it. The password is used as given,
// as SCRAM clients such as mellium.im/sasl and Strophe.js do, so that
// PLAIN and SCRAM accept the same bytes.
func hi(fn func() hash.Hash, password string, salt []byte, iter int) []byte {
	return sasl.SCRAMSaltPassword(fn, []byte(password), salt, iter)
}

// Users returns the prepared usernames, sorted.
func (c *Core) Users() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	names := make([]string, 0, len(c.accounts))
	for n := range c.accounts {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Credentials returns a copy of the account's credentials, or
// xmppstream.ErrNoAccount for an unknown user or another domain.
func (c *Core) Credentials(_ context.Context, domain, username string) (xmppstream.Credentials, error) {
	d, err := xmppstream.NewJID("", domain, "")
	if err != nil || d.Domain != c.domain {
		return xmppstream.Credentials{}, xmppstream.ErrNoAccount
	}
	c.mu.Lock()
	a := c.accounts[username]
	c.mu.Unlock()
	if a == nil {
		return xmppstream.Credentials{}, xmppstream.ErrNoAccount
	}
	creds := xmppstream.Credentials{Password: a.creds.Password, DigestMD5: slices.Clone(a.creds.DigestMD5),
		Salted: make(map[string]xmppstream.SaltedPassword, len(a.creds.Salted))}
	for k, v := range a.creds.Salted {
		v.Salt, v.Hash = slices.Clone(v.Salt), slices.Clone(v.Hash)
		creds.Salted[k] = v
	}
	return creds, nil
}

// accountLocked returns the local account a JID names, or nil.
func (c *Core) accountLocked(j xmppstream.JID) *account {
	if j.Domain != c.domain || j.Local == "" {
		return nil
	}
	return c.accounts[j.Local]
}

// boundLocked returns the account of j and the resource cl holds there,
// or nil when cl does not hold j's resource. Callers get j from cl.JID()
// before locking: no Client method is called with Core.mu held.
func (c *Core) boundLocked(cl xmppstream.Client, j xmppstream.JID) (*account, *resource) {
	a := c.accountLocked(j)
	if a == nil {
		return nil, nil
	}
	r := a.resources[j.Resource]
	if r == nil || r.client != cl {
		return a, nil
	}
	return a, r
}

// available returns the account's available resources, sorted by
// resourcepart so that deliveries happen in a stable order.
func (a *account) available() []*resource {
	var rs []*resource
	for _, r := range a.resources {
		if r.available {
			rs = append(rs, r)
		}
	}
	slices.SortFunc(rs, func(x, y *resource) int { return strings.Compare(x.jid.Resource, y.jid.Resource) })
	return rs
}
