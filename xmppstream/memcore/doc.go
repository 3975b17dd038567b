// Package memcore is an in-memory XMPP core: the reference implementation
// of xmppstream.Core, enough for a web client such as converse.js to log
// in, keep a roster, subscribe to presence and chat.
//
// It keeps accounts with PLAIN and SCRAM credentials (AddUser), binds
// resources with a configurable conflict policy (RFC 6120 §7.7.2.2, RFC
// 3921 §3), routes messages by full JID or by priority with offline
// storage (RFC 6121 §8.5, XEP-0160, XEP-0203), handles presence broadcast,
// directed presence and subscriptions with roster pushes (RFC 6121 §2–§4),
// and answers roster, ping (XEP-0199) and disco#info (XEP-0030) requests.
// There is no server-to-server link: stanzas to other domains bounce or
// are dropped. State lives in memory only.
//
// Layer: a host-side Core below xmppstream.Server; it imports xmppstream
// for the contract types and internal/xmlscan to parse the stanzas that
// come without the Server's parse, and must not import bosh or session.
// Start at New and Core.Route.
//
// The core reads a stanza from the Server through its Element, the
// Server's one parse of it, and parses only the stanzas that come
// without one (Core.Unbind's undelivered stanzas). Outgoing stanzas are
// built as bytes with escaped attribute values and always carry
// xmlns='jabber:client'; the client's stanzas are passed on as the
// client's bytes.
package memcore
