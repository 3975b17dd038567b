package xmppstream

import (
	"bytes"
	"cmp"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"hash"
	"io"
	"slices"
	"strings"

	"mellium.im/sasl"
)

// scramIterations is the iteration count of SCRAM credentials computed
// from a plain password, and of the decoys shown for unknown users.
const scramIterations = 4096

// exchange is one SASL authentication attempt (RFC 6120 §6.4). It is used
// only by the Send goroutine of its stream.
type exchange struct {
	mech     string
	neg      *sasl.Negotiator // PLAIN and SCRAM
	digest   *digestServer    // DIGEST-MD5
	steps    int
	user     JID    // the account, once the credentials are checked
	cond     string // a failure condition chosen by the credential callbacks
	badAuthz bool   // SCRAM: the authzid is not the user's bare JID
	decoy    bool   // SCRAM: unknown user or no usable credentials
}

// sasl handles an element of the SASL namespace (RFC 6120 §6.4). It
// reports false when the stream has ended.
func (s *stream) sasl(ctx context.Context, raw []byte, local string) bool {
	if s.authed {
		s.fail(ctx, "unsupported-stanza-type", errors.New("xmppstream: SASL after authentication"))
		return false
	}
	switch local {
	case "auth":
		return s.auth(ctx, raw)
	case "response":
		if s.exch == nil {
			return s.saslFailed(ctx, "malformed-request")
		}
		_, data, present, cond := readSASL(raw)
		if cond != "" {
			s.exch = nil
			return s.saslFailed(ctx, cond)
		}
		if !present {
			data = []byte{} // an empty <response/> is a zero-length response
		}
		return s.step(ctx, data)
	case "abort":
		s.exch = nil
		return s.saslFailed(ctx, "aborted") // §6.4.4
	}
	s.exch = nil
	return s.saslFailed(ctx, "malformed-request")
}

// auth starts an exchange (RFC 6120 §6.4.2). An <auth/> without initial
// response gets an empty challenge; "=" is a zero-length initial response.
func (s *stream) auth(ctx context.Context, raw []byte) bool {
	s.exch, s.mech = nil, ""
	mech, data, present, cond := readSASL(raw)
	if !slices.Contains(s.srv.offered(s.secure), mech) {
		if mech == MechPlain && slices.Contains(s.srv.mechs, MechPlain) {
			return s.saslFailed(ctx, "mechanism-too-weak") // RequireSecurePlain
		}
		return s.saslFailed(ctx, "invalid-mechanism")
	}
	s.mech = mech
	if cond != "" {
		return s.saslFailed(ctx, cond)
	}
	if mech == MechDigestMD5 {
		// A zero-length initial response ("=", RFC 6120 §6.4.2) is
		// none: StanzaJS sends one for DIGEST-MD5.
		return s.authDigest(ctx, present && len(data) > 0)
	}
	s.exch = s.newExchange(ctx, mech)
	if !present {
		s.sink.Deliver([]byte("<challenge xmlns='" + nsSASL + "'/>"))
		return true
	}
	return s.step(ctx, data)
}

// step feeds the client's data to the exchange and answers with a
// challenge, a success (with the mechanism's additional data, such as
// SCRAM's server signature, §6.3.10) or a failure.
func (s *stream) step(ctx context.Context, data []byte) bool {
	x := s.exch
	more, resp, err := x.step(data)
	if err != nil || (!more && (x.cond != "" || x.badAuthz || x.decoy || x.user.IsZero())) {
		s.exch = nil
		return s.saslFailed(ctx, x.failure(err))
	}
	if more {
		s.sink.Deliver(saslElement("challenge", resp))
		return true
	}
	s.exch = nil
	s.authed, s.user = true, x.user
	s.srv.log.Debug("xmppstream: authenticated", "mechanism", x.mech, "domain", s.domain)
	s.srv.counts.success.add(x.mech)
	s.sink.Deliver(saslElement("success", resp))
	return true
}

// saslFailed answers with a <failure/>; the MaxAuthFailures-th ends the
// stream with a not-authorized stream error (RFC 6120 §6.4.5).
func (s *stream) saslFailed(ctx context.Context, cond string) bool {
	s.failures++
	s.srv.counts.failure.add(cmp.Or(s.mech, "none")) // an offered mechanism: a bounded set
	s.srv.log.Debug("xmppstream: SASL failure", "condition", cond, "domain", s.domain, "failures", s.failures)
	s.sink.Deliver(saslFailure(cond))
	if s.failures >= MaxAuthFailures {
		s.fail(ctx, "not-authorized", errors.New("xmppstream: too many SASL failures"))
		return false
	}
	return true
}

// saslElement returns a <challenge/> or <success/> carrying data in base64.
func saslElement(name string, data []byte) []byte {
	if len(data) == 0 {
		return []byte("<" + name + " xmlns='" + nsSASL + "'/>")
	}
	return []byte("<" + name + " xmlns='" + nsSASL + "'>" + base64.StdEncoding.EncodeToString(data) + "</" + name + ">")
}

// readSASL reads an <auth/> or <response/>: the 'mechanism' attribute
// and the base64-decoded content. present is false when the content is
// empty, and "=" is present but zero-length (RFC 6120 §6.4.2). cond is
// incorrect-encoding for bad base64 and malformed-request for child
// elements.
func readSASL(raw []byte) (mech string, data []byte, present bool, cond string) {
	d := xml.NewDecoder(bytes.NewReader(raw))
	var text []byte
	for depth := 0; ; {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return mech, nil, false, "malformed-request"
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if depth++; depth > 1 {
				return mech, nil, false, "malformed-request"
			}
			for _, a := range t.Attr {
				if a.Name.Space == "" && a.Name.Local == "mechanism" {
					mech = a.Value
				}
			}
		case xml.EndElement:
			depth--
		case xml.CharData:
			text = append(text, t...)
		}
	}
	// Whitespace around and inside the base64 is dropped: the XEP-0206
	// examples wrap it in line breaks, and clients copy examples.
	b64 := strings.Join(strings.Fields(string(text)), "")
	switch b64 {
	case "":
		return mech, nil, false, ""
	case "=":
		return mech, []byte{}, true, ""
	}
	data, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return mech, nil, false, "incorrect-encoding"
	}
	return mech, data, true, ""
}

// newExchange starts an exchange with a mellium.im/sasl server negotiator
// whose credentials come from the Core.
func (s *stream) newExchange(ctx context.Context, mech string) *exchange {
	m, _ := mechanism(mech)
	x := &exchange{mech: mech}
	x.neg = sasl.NewServer(m,
		func(n *sasl.Negotiator) bool { return s.checkPlain(ctx, x, n) },
		sasl.SaltedCredentials(func(user, identity []byte, name string) ([]byte, []byte, int64, error) {
			return s.salted(ctx, x, user, identity, name)
		}))
	return x
}

// step runs one step of the negotiator. A panic in the mechanism is an
// error: client input must never bring the server down.
func (x *exchange) step(data []byte) (more bool, resp []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			more, resp, err = false, nil, fmt.Errorf("xmppstream: SASL mechanism panicked: %v", r)
		}
	}()
	x.steps++
	if x.digest != nil {
		var user JID
		more, resp, user, err = x.digest.step(data)
		x.user = user
		return more, resp, err
	}
	return x.neg.Step(data)
}

// failure returns the <failure/> condition for an exchange that ended with
// err (nil when the mechanism succeeded but the server refuses). Wrong
// credentials and unknown users get the same not-authorized.
func (x *exchange) failure(err error) string {
	var sc saslCondition
	switch {
	case x.cond != "":
		return x.cond
	case errors.As(err, &sc):
		return string(sc)
	case err == nil && x.badAuthz && !x.decoy:
		return "invalid-authzid"
	case err == nil, errors.Is(err, sasl.ErrAuthn):
		return "not-authorized"
	case errors.Is(err, sasl.ErrInvalidChallenge), errors.Is(err, sasl.ErrTooManySteps), errors.Is(err, sasl.ErrInvalidState):
		return "malformed-request"
	case x.mech != MechPlain && x.steps > 1:
		return "not-authorized" // SCRAM's final message: proof, nonce or binding
	}
	return "malformed-request"
}

// checkPlain is the PLAIN permissions callback (RFC 4616 §2): the password
// must match, and an authzid must be the user's own bare JID.
func (s *stream) checkPlain(ctx context.Context, x *exchange, n *sasl.Negotiator) bool {
	user, password, identity := n.Credentials()
	j, ok := s.account(string(user))
	if !ok {
		return false
	}
	creds, err := s.srv.core.Credentials(ctx, j.Domain, j.Local)
	if err != nil {
		if !errors.Is(err, ErrNoAccount) {
			s.srv.log.Warn("xmppstream: core failed to give credentials", "err", err)
			x.cond = "temporary-auth-failure"
		}
		return false
	}
	if !plainMatches(creds, password) {
		return false
	}
	if len(identity) > 0 {
		if a, err := ParseJID(string(identity)); err != nil || a != j {
			x.cond = "invalid-authzid" // RFC 6120 §6.4.5
			return false
		}
	}
	x.user = j
	return true
}

// plainMatches checks a PLAIN password against the stored password, or
// else against a stored SCRAM salted password.
func plainMatches(c Credentials, password []byte) bool {
	if c.Password != "" {
		return subtle.ConstantTimeCompare([]byte(c.Password), password) == 1
	}
	for _, name := range []string{MechScramSHA256, MechScramSHA1} {
		sp, ok := c.Salted[name]
		if !ok || sp.Iterations <= 0 {
			continue
		}
		return hmac.Equal(sasl.SCRAMSaltPassword(scramHash(name), password, sp.Salt, sp.Iterations), sp.Hash)
	}
	return false
}

// salted is the SCRAM credentials fetcher (RFC 5802 §3). For an unknown
// user, or one without credentials for the mechanism, it returns a decoy
// with a stable salt, so that the exchange fails only at the proof, as for
// a wrong password (RFC 5802 §5.1).
func (s *stream) salted(ctx context.Context, x *exchange, user, identity []byte, mech string) ([]byte, []byte, int64, error) {
	j, ok := s.account(string(user))
	var creds Credentials
	if ok {
		var err error
		creds, err = s.srv.core.Credentials(ctx, j.Domain, j.Local)
		switch {
		case errors.Is(err, ErrNoAccount):
			ok = false
		case err != nil:
			s.srv.log.Warn("xmppstream: core failed to give credentials", "err", err)
			x.cond = "temporary-auth-failure"
			return nil, nil, 0, err
		}
	}
	if len(identity) > 0 {
		a, err := ParseJID(string(unescapeSaslname(identity)))
		x.badAuthz = err != nil || a != j
	}
	h := scramHash(mech)
	salt := s.stableSalt(string(user))
	if ok {
		x.user = j
		if sp, found := creds.Salted[mech]; found && sp.Iterations > 0 {
			return sp.Salt, sp.Hash, int64(sp.Iterations), nil
		}
		if creds.Password != "" {
			return salt, sasl.SCRAMSaltPassword(h, []byte(creds.Password), salt, scramIterations), scramIterations, nil
		}
	}
	x.decoy = true
	decoy := make([]byte, h().Size())
	rand.Read(decoy)
	return salt, decoy, scramIterations, nil
}

// account prepares a SASL username as the localpart of a JID of the
// stream's domain (RFC 7622 §3.3).
func (s *stream) account(user string) (JID, bool) {
	if user == "" {
		return JID{}, false
	}
	j, err := NewJID(user, s.domain, "")
	return j, err == nil
}

// stableSalt is the salt shown for a user without stored SCRAM
// credentials: the same for every attempt, and unpredictable.
func (s *stream) stableSalt(user string) []byte {
	m := hmac.New(sha256.New, s.srv.secret[:])
	m.Write([]byte(s.domain))
	m.Write([]byte{0})
	m.Write([]byte(user))
	return m.Sum(nil)[:16]
}

func scramHash(mech string) func() hash.Hash {
	if mech == MechScramSHA1 {
		return sha1.New
	}
	return sha256.New
}

// unescapeSaslname decodes "=2C" and "=3D" (RFC 5802 §5.1).
func unescapeSaslname(b []byte) []byte {
	b = bytes.ReplaceAll(b, []byte("=2C"), []byte(","))
	return bytes.ReplaceAll(b, []byte("=3D"), []byte("="))
}
