package memcore

import (
	"bytes"
	"errors"
	"time"

	"github.com/httpbind/httpbind/internal/xmlscan"
	"github.com/httpbind/httpbind/internal/xmppwire"
	"github.com/httpbind/httpbind/xmppstream"
)

// Namespaces the core reads or writes.
const (
	nsClient     = xmppwire.NSClient
	nsStanzas    = xmppwire.NSStanzas
	nsRoster     = "jabber:iq:roster"
	nsPing       = "urn:xmpp:ping"
	nsDiscoInfo  = "http://jabber.org/protocol/disco#info"
	nsSession    = xmppwire.NSSession
	nsDelay      = "urn:xmpp:delay"
	nsChatStates = "http://jabber.org/protocol/chatstates"
	nsXML        = xmppwire.NSXML
)

// errNotStanza reports a root element outside jabber:client.
var errNotStanza = errors.New("memcore: not a jabber:client stanza")

// elem is an element under construction: an outgoing stanza or one of its
// payloads. Attribute values are kept unescaped and escaped when written;
// children are complete elements, written as they are.
type elem struct {
	name     string
	attrs    []attr
	children []child
}

type attr struct{ name, value string }

// child is one child element: its resolved namespace, local name and bytes.
type child struct {
	space, local string
	raw          []byte
}

// newElem returns an element with the given name and attributes, given as
// name/value pairs; pairs with an empty value are left out.
func newElem(name string, kv ...string) *elem {
	e := &elem{name: name}
	for i := 0; i+1 < len(kv); i += 2 {
		e.set(kv[i], kv[i+1])
	}
	return e
}

// newStanza returns a stanza in the jabber:client namespace (XEP-0206 §2).
func newStanza(name string, kv ...string) *elem {
	return newElem(name, append([]string{"xmlns", nsClient}, kv...)...)
}

// get returns the value of the attribute written as name, or "".
func (e *elem) get(name string) string {
	for _, a := range e.attrs {
		if a.name == name {
			return a.value
		}
	}
	return ""
}

// set sets the attribute written as name; an empty value removes it.
func (e *elem) set(name, value string) *elem {
	for i, a := range e.attrs {
		if a.name == name {
			if value == "" {
				e.attrs = append(e.attrs[:i:i], e.attrs[i+1:]...)
			} else {
				e.attrs[i].value = value
			}
			return e
		}
	}
	if value != "" {
		e.attrs = append(e.attrs, attr{name, value})
	}
	return e
}

// add appends child elements built with elem.
func (e *elem) add(children ...*elem) *elem {
	for _, c := range children {
		e.children = append(e.children, child{raw: c.bytes()})
	}
	return e
}

// text appends a child element holding only escaped character data.
func (e *elem) text(name, data string) *elem {
	var b bytes.Buffer
	b.WriteString("<" + name + ">")
	escape(&b, data)
	b.WriteString("</" + name + ">")
	e.children = append(e.children, child{local: name, raw: b.Bytes()})
	return e
}

// has reports whether e has a child with the given namespace and local name.
func (e *elem) has(space, local string) bool {
	for _, c := range e.children {
		if c.space == space && c.local == local {
			return true
		}
	}
	return false
}

// clone returns a copy of e whose attributes and child list can be changed
// without touching e; the children's bytes are shared, never modified.
func (e *elem) clone() *elem {
	return &elem{
		name:     e.name,
		attrs:    append([]attr(nil), e.attrs...),
		children: append([]child(nil), e.children...),
	}
}

// with returns e written with the attributes in kv (name/value pairs) set
// or, for empty values, removed. e itself is unchanged.
func (e *elem) with(kv ...string) []byte {
	c := e.clone()
	for i := 0; i+1 < len(kv); i += 2 {
		c.set(kv[i], kv[i+1])
	}
	return c.bytes()
}

// bytes writes e, escaping attribute values.
func (e *elem) bytes() []byte {
	var b bytes.Buffer
	b.WriteString("<" + e.name)
	for _, a := range e.attrs {
		b.WriteString(" " + a.name + "='")
		escape(&b, a.value)
		b.WriteByte('\'')
	}
	if len(e.children) == 0 {
		b.WriteString("/>")
		return b.Bytes()
	}
	b.WriteByte('>')
	for _, c := range e.children {
		b.Write(c.raw)
	}
	b.WriteString("</" + e.name + ">")
	return b.Bytes()
}

// escape writes s as character data or an attribute value: the five
// special characters and TAB, LF and CR become references, so values
// survive attribute-value normalization (XML 1.0 §3.3.3).
func escape(b *bytes.Buffer, s string) { b.Write(xmppwire.AppendAttr(b.AvailableBuffer(), s)) }

// element returns the parsed root of st: the Element the Server carries,
// or, for a Stanza made elsewhere, Raw parsed. The root must be in
// jabber:client.
func element(st *xmppstream.Stanza) (*xmppstream.Element, error) {
	if st.Element == nil {
		return parseElement(st.Raw)
	}
	if string(st.Element.Space) != nsClient {
		return nil, errNotStanza
	}
	return st.Element, nil
}

// parseElement parses raw, a stanza in jabber:client that came without
// its Element, into one: an undelivered stanza or one made by hand.
// Character data directly inside the root, which no stanza has
// (xmppstream refuses it), makes it an error.
func parseElement(raw []byte) (*xmppstream.Element, error) {
	doc := xmlscan.GetDoc()
	defer xmlscan.PutDoc(doc) // the Element copies what it keeps: nothing points into doc
	if err := xmlscan.Parse(raw, xmlscan.Limits{NoRootText: true}, doc); err != nil {
		return nil, err
	}
	if string(doc.Space) != nsClient {
		return nil, errNotStanza
	}
	el := &xmppstream.Element{Space: doc.Space, Local: doc.Local}
	for _, d := range doc.Decls {
		if len(d.Prefix) > 0 {
			el.Decls = append(el.Decls, xmppstream.Decl{Prefix: d.Prefix, URI: d.URI})
		}
	}
	for _, a := range doc.Attrs {
		el.Attrs = append(el.Attrs, xmppstream.Attr{Space: a.Space, Local: a.Local, Value: a.Value})
	}
	for _, c := range doc.Children {
		el.Children = append(el.Children, xmppstream.Child{Space: c.Space, Local: c.Local, Raw: raw[c.Start:c.End:c.End]})
	}
	return el, nil
}

// parse parses raw, a stanza in jabber:client, into an elem.
func parse(raw []byte) (*elem, error) {
	el, err := parseElement(raw)
	if err != nil {
		return nil, err
	}
	return newElemOf(el), nil
}

// newElemOf makes an elem of a stanza's root, to rewrite and write again:
// its attributes (unescaped), its prefixed namespace declarations (kept
// so children that rely on them stay well-formed) and its child elements
// as bytes. The root is written back unprefixed with
// xmlns='jabber:client'.
func newElemOf(el *xmppstream.Element) *elem {
	e := newStanza(string(el.Local))
	for _, d := range el.Decls {
		e.attrs = append(e.attrs, attr{"xmlns:" + string(d.Prefix), string(d.URI)})
	}
	for _, a := range el.Attrs {
		name := string(a.Local)
		switch space := string(a.Space); space {
		case "":
		case nsXML:
			name = "xml:" + name
		default:
			name = prefixFor(el, space) + ":" + name
		}
		e.attrs = append(e.attrs, attr{name, string(a.Value)})
	}
	for _, c := range el.Children {
		e.children = append(e.children, child{space: string(c.Space), local: string(c.Local), raw: c.Raw})
	}
	return e
}

// prefixFor returns a prefix the root declares for the namespace URI.
// The root parsed, so a prefixed root attribute always has one.
func prefixFor(el *xmppstream.Element, uri string) string {
	for _, d := range el.Decls {
		if string(d.URI) == uri {
			return string(d.Prefix)
		}
	}
	return ""
}

// errorReply builds the stanza error for st per RFC 6120 §8.3: the same
// stanza kind with 'to' and 'from' swapped, type='error', the original
// children echoed and an <error/> child with the defined condition
// (§8.3.3) in the urn:ietf:params:xml:ns:xmpp-stanzas namespace.
func errorReply(st *elem, typ, condition string) []byte {
	e := newStanza(st.name,
		"type", "error",
		"id", st.get("id"),
		"from", st.get("to"),
		"to", st.get("from"),
		"xml:lang", st.get("xml:lang"))
	for _, a := range st.attrs {
		if len(a.name) > 6 && a.name[:6] == "xmlns:" {
			e.attrs = append(e.attrs, a)
		}
	}
	e.children = append(e.children, st.children...)
	return e.add(newElem("error", "type", typ).
		add(newElem(condition, "xmlns", nsStanzas))).bytes()
}

// stamp formats t as an XEP-0082 DateTime in UTC with milliseconds.
func stamp(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000Z")
}
