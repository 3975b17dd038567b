package xmppstream

import (
	"context"
	"crypto/md5"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"strings"
	"unicode/utf8"

	"github.com/httpbind/httpbind/internal/digestmd5"
)

// DigestMD5Credential returns the credential a Server offering DIGEST-MD5
// checks a user with (Credentials.DigestMD5): H(username ":" realm ":"
// password) of RFC 2831 §2.1.2.1, with the prepared localpart as username
// and the domain as realm, the way the Server's challenge names it. A core
// computes it when an account is created or its password changes, and
// may keep it instead of the password. It is a password equivalent for
// the domain (whoever has it can log in with DIGEST-MD5) and, being an
// unsalted MD5, a fast start for guessing the password.
func DigestMD5Credential(localpart, domain, password string) []byte {
	return digestmd5.Credential(localpart, domain, password)
}

// saslCondition is the SASL failure condition (RFC 6120 §6.5) an exchange
// ended with.
type saslCondition string

func (c saslCondition) Error() string { return "xmppstream: SASL failure " + string(c) }

// digestState is where a DIGEST-MD5 exchange is.
type digestState int

const (
	digestChallenged digestState = iota // the challenge is sent; the digest-response is due
	digestVerified                      // rspauth is sent; the empty response is due
	digestOver
)

// digestServer is the server side of one DIGEST-MD5 exchange (RFC 2831
// §2.1) for qop=auth with md5-sess, as XEP-0206 v1.2 Examples 4–9 show
// it: a challenge with the domain as realm, a fresh nonce, qop="auth",
// charset=utf-8 and algorithm=md5-sess; the client's digest-response,
// checked; a second challenge carrying rspauth; the client's empty
// response; success. Subsequent authentication (§2.2) is not offered, so
// the nonce serves one response. It is used only by the Send goroutine of
// its stream.
type digestServer struct {
	domain string
	nonce  string
	// creds looks the user up: the Core's credentials and the bare JID,
	// or a failure condition (not-authorized for an unknown user).
	creds func(username string) (Credentials, JID, saslCondition)
	state digestState
	user  JID // once the response checked out
}

// authDigest starts a DIGEST-MD5 exchange (RFC 6120 §6.4.2) with a fresh
// nonce from crypto/rand (rand.Text: 26 characters, 130 bits). The server
// speaks first (RFC 2831 §2.1), so an initial response that carries data
// is malformed-request (RFC 6120 §6.5.9).
func (s *stream) authDigest(ctx context.Context, initial bool) bool {
	if initial {
		return s.saslFailed(ctx, "malformed-request")
	}
	d := &digestServer{domain: s.domain, nonce: rand.Text(), creds: func(username string) (Credentials, JID, saslCondition) {
		return s.digestCreds(ctx, username)
	}}
	s.exch = &exchange{mech: MechDigestMD5, digest: d}
	s.sink.Deliver(saslElement("challenge", d.challenge()))
	return true
}

// digestCreds fetches a DIGEST-MD5 user's credentials from the Core.
func (s *stream) digestCreds(ctx context.Context, username string) (Credentials, JID, saslCondition) {
	j, ok := s.account(username)
	if !ok {
		return Credentials{}, JID{}, "not-authorized"
	}
	creds, err := s.srv.core.Credentials(ctx, j.Domain, j.Local)
	switch {
	case errors.Is(err, ErrNoAccount):
		return Credentials{}, JID{}, "not-authorized"
	case err != nil:
		s.srv.log.Warn("xmppstream: core failed to give credentials", "err", err)
		return Credentials{}, JID{}, "temporary-auth-failure"
	}
	return creds, j, ""
}

// challenge is the first challenge (RFC 2831 §2.1.1).
func (d *digestServer) challenge() []byte {
	return digestmd5.Challenge{Realms: []string{d.domain}, Nonce: d.nonce, QOP: []string{digestmd5.QOPAuth}, UTF8: true}.Encode()
}

// step takes the client's data: the digest-response, answered with
// rspauth (more), then the empty response, which ends the exchange with
// success and the user. Every failure is a saslCondition.
func (d *digestServer) step(data []byte) (more bool, resp []byte, user JID, err error) {
	switch d.state {
	case digestChallenged:
		d.state = digestOver
		rspauth, err := d.verify(data)
		if err != nil {
			return false, nil, JID{}, err
		}
		d.state = digestVerified
		return true, []byte("rspauth=" + rspauth), d.user, nil
	case digestVerified:
		d.state = digestOver
		if len(data) > 0 {
			return false, nil, JID{}, saslCondition("malformed-request")
		}
		return false, nil, d.user, nil
	}
	return false, nil, JID{}, saslCondition("malformed-request")
}

// verify checks a digest-response (RFC 2831 §2.1.2) and returns the
// response-auth for it (§2.1.3). A response that breaks the syntax, or
// asks for what was not offered (another qop, a cipher, no realm), is
// malformed-request; one for another nonce (a replay of an earlier
// exchange), another nonce-count, realm or digest-uri, an unknown user or
// a wrong digest is not-authorized; an authzid other than the user's bare
// JID is invalid-authzid (RFC 6120 §6.5).
func (d *digestServer) verify(data []byte) (string, error) {
	r, err := digestmd5.ParseResponse(data)
	if err != nil || r.QOP != digestmd5.QOPAuth || r.HasCipher || !r.HasRealm {
		return "", saslCondition("malformed-request")
	}
	username, realm, authzid := r.Username, r.Realm, r.AuthzID
	if !r.UTF8 {
		username, realm, authzid = digestmd5.Latin1ToUTF8(username), digestmd5.Latin1ToUTF8(realm), digestmd5.Latin1ToUTF8(authzid)
	} else if !utf8.ValidString(username) || !utf8.ValidString(realm) || !utf8.ValidString(authzid) {
		return "", saslCondition("malformed-request")
	}
	if subtle.ConstantTimeCompare([]byte(r.Nonce), []byte(d.nonce)) != 1 || r.NC != digestmd5.FirstNC ||
		realm != d.domain || !d.digestURIValid(r.DigestURI) {
		return "", saslCondition("not-authorized")
	}
	creds, user, cond := d.creds(username)
	// An unknown user is checked against a random credential, so that
	// the answer takes as long as for a wrong password.
	var cred []byte
	match := false
	for _, c := range d.credentials(creds, username) {
		if subtle.ConstantTimeCompare([]byte(r.Value(c)), []byte(r.Response)) == 1 && !match {
			cred, match = c, true
		}
	}
	switch {
	case cond != "":
		return "", cond
	case !match:
		return "", saslCondition("not-authorized")
	case r.HasAuthzID && authzid != "":
		if a, err := ParseJID(authzid); err != nil || a != user {
			return "", saslCondition("invalid-authzid") // RFC 6120 §6.3.8
		}
	}
	d.user = user
	return r.ResponseAuth(cred), nil
}

// credentials returns the H(username:realm:password) to check the user
// against: from the password, for the username as the client wrote it, in
// both the ISO 8859-1 form of RFC 2831 §2.1.2.1 and the UTF-8 form of
// clients that skip the conversion; or else the stored
// Credentials.DigestMD5, made for the prepared localpart; or a random one.
func (d *digestServer) credentials(c Credentials, username string) [][]byte {
	switch {
	case c.Password != "":
		return digestmd5.CredentialForms(username, d.domain, c.Password)
	case len(c.DigestMD5) == md5.Size:
		return [][]byte{c.DigestMD5}
	}
	decoy := make([]byte, md5.Size)
	rand.Read(decoy)
	return [][]byte{decoy}
}

// digestURIValid reports whether a digest-uri names this service:
// serv-type "xmpp" and the domain as host (RFC 2831 §2.1.2, RFC 3920
// §6.1), or as serv-name after another host. The host is compared
// without regard to case, as DNS names are.
func (d *digestServer) digestURIValid(uri string) bool {
	rest, ok := strings.CutPrefix(uri, "xmpp/")
	if !ok {
		return false
	}
	host, serv, hasServ := strings.Cut(rest, "/")
	if hasServ {
		return serv == d.domain && host != ""
	}
	return strings.EqualFold(host, d.domain)
}
