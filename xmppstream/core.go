package xmppstream

import (
	"context"
	"errors"
)

// A Core is the host's XMPP core as the negotiating upstream sees it: it
// knows the accounts and routes stanzas between bound clients. The
// negotiating upstream (Server) runs SASL, resource binding and session
// establishment itself and calls the Core only for what needs the host.
//
// Methods are called concurrently for different clients, from BOSH request
// goroutines; calls for one client never overlap. None may block on
// another client: deliveries go through Client.Deliver, which never
// blocks.
type Core interface {
	// Credentials returns the account's credentials for SASL, or
	// ErrNoAccount. username is the prepared localpart (RFC 7622 §3.3).
	Credentials(ctx context.Context, domain, username string) (Credentials, error)
	// Bind binds a resource for an authenticated client (RFC 6120 §7).
	// resource is the prepared resourcepart the client asked for, or
	// empty: the core then makes one. It returns the full JID. When the
	// resource is taken, the core either refuses with ErrConflict (the
	// client may bind another) or replaces the old client, whose Kick it
	// calls with "conflict" (RFC 6120 §7.7.2.2).
	Bind(ctx context.Context, c Client, user JID, resource string) (JID, error)
	// StartSession establishes the IM session of a bound client (RFC 3921
	// §3). It returns nil, or a *StanzaError: internal-server-error (type
	// wait), forbidden (type auth) or conflict (type cancel). Under the
	// replace policy, the core kicks the other active resource with the
	// same JID and returns nil.
	StartSession(ctx context.Context, c Client) error
	// Route takes one stanza from a client whose preconditions hold
	// (XEP-0206 §5: SASL, bind, and session where required). Its 'from'
	// is the client's full JID, stamped by the Server.
	Route(ctx context.Context, from Client, st *Stanza)
	// Unbind tells the core that the client is gone. undelivered are
	// stanzas that were queued for it and never reached it; the core may
	// store messages among them offline. The Server calls it exactly once
	// for every client whose Bind succeeded, whatever ended the stream
	// (the client, a timeout, a stream error, or the core's own Kick),
	// and never from inside a Client method.
	Unbind(c Client, undelivered [][]byte)
}

// ErrNoAccount is returned by Core.Credentials for an unknown user.
var ErrNoAccount = errors.New("xmppstream: no such account")

// ErrConflict is returned by Core.Bind when the resource is taken and the
// core keeps the client that holds it (RFC 6120 §7.7.2.2, RFC 3921 §3).
var ErrConflict = errors.New("xmppstream: resource conflict")

// Credentials are what the Server needs to check a user. A core gives
// what it keeps, and each mechanism uses what it can:
//
//   - PLAIN, and XEP-0078's plain-text <password/>: Password, or else
//     a Salted entry (the password is salted and hashed to compare);
//   - SCRAM-SHA-1 and SCRAM-SHA-256: Salted, or else Password;
//   - DIGEST-MD5: Password, or else DigestMD5;
//   - XEP-0078's <digest/>: Password only.
//
// A core that keeps no plain password (Password empty) cannot serve
// XEP-0078 digests; one that keeps neither DigestMD5 nor Password cannot
// serve DIGEST-MD5.
type Credentials struct {
	// Password is the account's password, or "" when the core does not
	// keep it.
	Password string
	// Salted maps a SCRAM mechanism name ("SCRAM-SHA-1", "SCRAM-SHA-256")
	// to the stored salted password (RFC 5802 §3).
	Salted map[string]SaltedPassword
	// DigestMD5 is the DIGEST-MD5 credential, as DigestMD5Credential
	// computes it for the account's prepared localpart and this domain
	// (RFC 2831 §2.1.2.1); nil when the core does not keep it. It only
	// matches clients that write the username as the prepared localpart
	// and, for a name or password with characters of ISO 8859-1 beyond
	// ASCII, hash them in ISO 8859-1 as the RFC asks; from Password, the
	// Server accepts the client's spelling and the UTF-8 form as well.
	DigestMD5 []byte
}

// SaltedPassword is a SCRAM SaltedPassword with its salt and iteration
// count (RFC 5802 §3).
type SaltedPassword struct {
	Salt       []byte
	Iterations int
	Hash       []byte // SaltedPassword := Hi(Normalize(password), salt, i)
}

// Client is one bound client as the core sees it.
type Client interface {
	// JID returns the client's full JID.
	JID() JID
	// Deliver queues a stanza (a complete <message/>, <presence/> or
	// <iq/> in the jabber:client namespace) for the client. It never
	// blocks. It reports false when the client is gone; the stanza is then
	// the core's to keep (offline storage) or bounce.
	Deliver(stanza []byte) bool
	// Kick ends the client's stream with a stream error condition such as
	// StreamConflict (RFC 6120 §4.9.3); the client sees remote-stream-error
	// (XEP-0206 §6).
	Kick(condition StreamCondition)
}

// Stanza is one stanza from a client, checked and stamped by the Server.
type Stanza struct {
	Name     string // "message", "presence" or "iq"
	Type, ID string
	To       JID // zero when absent: the stanza is for the client's account or server
	From     JID // the client's full JID (RFC 6120 §8.1.2.1)
	// Raw is the stanza as the client sent it, with 'from' stamped and
	// xmlns='jabber:client' declared.
	Raw []byte
	// Element is Raw's root as the Server parsed it, so that the Core
	// need not parse Raw again. It is nil in a Stanza the Server did not
	// make; a Core that is given such stanzas parses Raw itself.
	Element *Element
}

// StanzaError is an error a Core returns to be sent back as a stanza error
// (RFC 6120 §8.3), for example by StartSession.
type StanzaError struct {
	Type      StanzaErrorType // ErrorAuth, ErrorCancel, ... (RFC 6120 §8.3.2)
	Condition StanzaCondition // Forbidden, Conflict, ... (RFC 6120 §8.3.3)
	Text      string          // optional human-readable text
}

func (e *StanzaError) Error() string {
	return "xmppstream: stanza error " + string(e.Type) + "/" + string(e.Condition)
}
