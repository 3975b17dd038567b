// Package digestmd5 is the message syntax and the digest arithmetic of
// SASL DIGEST-MD5 (RFC 2831) for "qop=auth" with "algorithm=md5-sess",
// the only form XMPP used (XEP-0206 v1.2 Examples 4–9, RFC 3920 §6):
// reading and writing a digest-challenge (§2.1.1) and a digest-response
// (§2.1.2), the stored credential H(username:realm:password), the
// response-value (§2.1.2.1) and the response-auth of the server's last
// challenge (§2.1.3). Integrity and confidentiality (auth-int, auth-conf)
// and subsequent authentication (§2.2) are not implemented.
//
// The server in package xmppstream and the client the tests log in with
// ([Client]) share it, so there is one implementation of the mechanism;
// the RFC's own example (§4) pins the arithmetic.
//
// DIGEST-MD5 is historic (RFC 6331): it is here for old clients and for
// replaying the XEP-0206 walk-through, and is off unless a host turns it
// on.
//
// Layer: a leaf; it imports only the standard library. Start at
// ParseResponse and Response.Value.
package digestmd5
