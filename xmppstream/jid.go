package xmppstream

import (
	"errors"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/secure/precis"
)

// JID is a prepared XMPP address, localpart@domainpart/resourcepart
// (RFC 7622). The zero JID is empty. JIDs are comparable: two JIDs of the
// same entity are equal after ParseJID.
type JID struct {
	Local, Domain, Resource string
}

// ErrJID reports an address that is not a valid JID (RFC 7622 §3).
var ErrJID = errors.New("xmppstream: invalid JID")

// ParseJID parses and prepares an address: the localpart with the PRECIS
// UsernameCaseMapped profile (RFC 7622 §3.3), the domainpart lowercased
// without a trailing dot (§3.2), the resourcepart with OpaqueString (§3.4).
// Each part is at most 1023 bytes.
func ParseJID(s string) (JID, error) {
	var j JID
	rest := s
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		j.Resource, rest = rest[i+1:], rest[:i]
		if j.Resource == "" {
			return JID{}, ErrJID
		}
	}
	if i := strings.IndexByte(rest, '@'); i >= 0 {
		j.Local, rest = rest[:i], rest[i+1:]
		if j.Local == "" {
			return JID{}, ErrJID
		}
	}
	j.Domain = rest
	return j.prepare()
}

// NewJID prepares a JID from its parts.
func NewJID(local, domain, resource string) (JID, error) {
	return JID{Local: local, Domain: domain, Resource: resource}.prepare()
}

func (j JID) prepare() (JID, error) {
	var err error
	if j.Local != "" {
		if j.Local, err = precis.UsernameCaseMapped.String(j.Local); err != nil || strings.ContainsAny(j.Local, "\"&'/:<>@") {
			return JID{}, ErrJID
		}
	}
	if j.Resource != "" {
		if j.Resource, err = precis.OpaqueString.String(j.Resource); err != nil {
			return JID{}, ErrJID
		}
	}
	j.Domain = strings.TrimSuffix(strings.ToLower(j.Domain), ".")
	if j.Domain == "" || !utf8.ValidString(j.Domain) || strings.ContainsAny(j.Domain, " \t\r\n@/<>&'\"") {
		return JID{}, ErrJID
	}
	if len(j.Local) > 1023 || len(j.Domain) > 1023 || len(j.Resource) > 1023 {
		return JID{}, ErrJID
	}
	return j, nil
}

// Bare returns the JID without its resource.
func (j JID) Bare() JID { return JID{Local: j.Local, Domain: j.Domain} }

// IsZero reports whether j is empty.
func (j JID) IsZero() bool { return j == JID{} }

// String returns the JID as written.
func (j JID) String() string {
	s := j.Domain
	if j.Local != "" {
		s = j.Local + "@" + s
	}
	if j.Resource != "" {
		s += "/" + j.Resource
	}
	return s
}
