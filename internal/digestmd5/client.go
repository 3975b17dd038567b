package digestmd5

import (
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"slices"
)

// Client is the client side of one DIGEST-MD5 exchange, computed as a
// real client does (RFC 2831 §2.1.2, with the XMPP profile of RFC 3920
// §6.1: digest-uri "xmpp/" and the domain). Set the fields, then call Step
// with each challenge. A Client is used by one goroutine.
type Client struct {
	Username, Password string
	// AuthzID, when set, is sent as the authzid directive.
	AuthzID string
	// Domain is the XMPP domain: the host of the digest-uri, and the realm
	// when the challenge offers none.
	Domain string
	// CNonce is the client nonce; empty means a fresh random one.
	CNonce string

	sent *Response // the response sent, once the first challenge is answered
	cred []byte
	done bool
}

// Step answers a challenge. The first gets the digest-response; the
// second must be the server's response-auth (RFC 2831 §2.1.3), which Step
// checks and answers with an empty response. An error means the exchange
// is to be given up.
func (c *Client) Step(challenge []byte) ([]byte, error) {
	switch {
	case c.done:
		return nil, errors.New("digestmd5: the exchange is over")
	case c.sent != nil:
		c.done = true
		got, err := ParseResponseAuth(challenge)
		if err != nil {
			return nil, err
		}
		if subtle.ConstantTimeCompare([]byte(got), []byte(c.sent.ResponseAuth(c.cred))) != 1 {
			return nil, errors.New("digestmd5: the server's rspauth is wrong")
		}
		return []byte{}, nil
	}
	ch, err := ParseChallenge(challenge)
	if err != nil {
		return nil, err
	}
	if !slices.Contains(ch.QOP, QOPAuth) {
		return nil, errors.New("digestmd5: the server does not offer qop=auth")
	}
	r := &Response{Username: c.Username, Realm: c.Domain, HasRealm: true, Nonce: ch.Nonce,
		CNonce: c.CNonce, NC: FirstNC, QOP: QOPAuth, DigestURI: "xmpp/" + c.Domain, UTF8: ch.UTF8}
	if len(ch.Realms) > 0 {
		r.Realm = ch.Realms[0]
	}
	if !ch.UTF8 {
		// Without charset=utf-8 the username goes in ISO 8859-1 (§2.1.2).
		l := latin1IfPossible(c.Username)
		if string(l) == c.Username && !isASCII(c.Username) {
			return nil, errors.New("digestmd5: the username has no ISO 8859-1 form and the server does not take UTF-8")
		}
		r.Username = string(l)
	}
	if r.CNonce == "" {
		r.CNonce = rand.Text()
	}
	if c.AuthzID != "" {
		r.AuthzID, r.HasAuthzID = c.AuthzID, true
	}
	c.cred = Credential(c.Username, r.Realm, c.Password)
	r.Response = r.Value(c.cred)
	c.sent = r
	return r.Encode(), nil
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
