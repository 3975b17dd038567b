package xmppstream

import (
	"bytes"

	"github.com/httpbind/httpbind/internal/xmlscan"
)

// This file rewrites a checked stanza for the Core (XEP-0206 §2): 'from'
// stamped and jabber:client declared at the offsets of the stanza's one
// parse, and that parse carried as the Stanza's Element.

// stanzaAlloc is a Stanza with room for its Element, so that a stanza
// with a few attributes and children takes one allocation.
type stanzaAlloc struct {
	st       Stanza
	el       Element
	attrs    [6]Attr
	children [2]Child
}

// element sets sa.st.Element from doc, which describes raw as the client
// sent it, for stamped, the same stanza as stamp wrote it with full as
// 'from'.
func (sa *stanzaAlloc) element(raw []byte, doc *xmlscan.Doc, stamped, full []byte) {
	el := &sa.el
	def, prefixed := defaultNS(raw, doc)
	el.Space, el.Local = def, doc.Local
	if prefixed {
		el.Space = doc.Space
	}
	el.Attrs = sa.attrs[:0]
	if _, ok := doc.Attr("", "from"); !ok {
		el.Attrs = append(el.Attrs, Attr{Local: fromName, Value: full})
	}
	for _, a := range doc.Attrs {
		v := a.Value
		if a.Space == nil && string(a.Local) == "from" {
			v = full
		}
		el.Attrs = append(el.Attrs, Attr{Space: a.Space, Local: a.Local, Value: v})
	}
	for _, d := range doc.Decls {
		if len(d.Prefix) > 0 {
			el.Decls = append(el.Decls, Decl{Prefix: d.Prefix, URI: d.URI})
		}
	}
	el.Children = sa.children[:0]
	shift := len(stamped) - len(raw) // stamping changes the start tag only
	for _, c := range doc.Children {
		space := c.Space
		if c.DefaultNS {
			space = def
		}
		el.Children = append(el.Children, Child{Space: space, Local: c.Local, Raw: stamped[c.Start+shift : c.End+shift : c.End+shift]})
	}
	sa.st.Element = el
}

// Names the Element of a stamped stanza may point to.
var (
	clientNS = []byte(nsClient) // the default namespace of a stamped stanza
	fromName = []byte("from")   // the 'from' attribute stamp adds
)

// defaultNS returns the default namespace of the stanza that stamp makes
// of raw, and whether its root is prefixed: stamp declares jabber:client,
// but keeps the default namespace that a prefixed root declares.
func defaultNS(raw []byte, doc *xmlscan.Doc) (def []byte, prefixed bool) {
	prefixed = bytes.IndexByte(raw[doc.Start:doc.NameEnd], ':') >= 0
	if d := defaultDecl(doc); prefixed && d != nil {
		return d.URI, true
	}
	return clientNS, prefixed
}

// defaultDecl returns the root's declaration of the default namespace, or
// nil.
func defaultDecl(doc *xmlscan.Doc) *xmlscan.Decl {
	for i := range doc.Decls {
		if len(doc.Decls[i].Prefix) == 0 {
			return &doc.Decls[i]
		}
	}
	return nil
}

// stamp returns raw, whose root doc describes, with the root's 'from' set
// to from and its default namespace set to jabber:client, inserting the
// attributes that are missing right after the element name. A prefixed
// root (already in jabber:client) keeps a default namespace declaration
// it has. It also returns the value of 'from' as it is in the result, or
// a copy when escaping changed it.
func stamp(raw []byte, doc *xmlscan.Doc, from string) (stamped, full []byte) {
	var b bytes.Buffer
	b.Grow(len(raw) + len(from) + 40)
	b.Write(raw[:doc.NameEnd])
	fromStart := -1
	var edits [2]edit // the values to replace, in the order of raw
	n := 0
	if a := fromAttr(doc); a != nil {
		edits[n] = edit{a.ValueStart, a.ValueEnd, from, true}
		n++
	} else {
		b.WriteString(" from='")
		fromStart = b.Len()
		escapeAttr(&b, from)
		b.WriteByte('\'')
	}
	d := defaultDecl(doc)
	if d == nil {
		b.WriteString(" xmlns='" + nsClient + "'")
	} else if _, prefixed := defaultNS(raw, doc); !prefixed {
		edits[n] = edit{d.ValueStart, d.ValueEnd, nsClient, false}
		n++
	}
	if n == 2 && edits[1].start < edits[0].start {
		edits[0], edits[1] = edits[1], edits[0]
	}
	last := doc.NameEnd
	for _, e := range edits[:n] {
		b.Write(raw[last:e.start])
		if e.from {
			fromStart = b.Len()
		}
		escapeAttr(&b, e.value)
		last = e.end
	}
	fromEnd := fromStart + len(from)
	b.Write(raw[last:])
	stamped = b.Bytes()
	if c := stamped[fromEnd]; c != '\'' && c != '"' {
		// Escaped: the value written is longer than from (a reference
		// never holds a quote).
		return stamped, []byte(from)
	}
	return stamped, stamped[fromStart:fromEnd:fromEnd]
}

// edit is an attribute value of a root start tag to replace: raw[start:end]
// becomes value, escaped.
type edit struct {
	start, end int
	value      string
	from       bool // the value is 'from'
}

// fromAttr returns the root's unprefixed 'from' attribute, or nil.
func fromAttr(doc *xmlscan.Doc) *xmlscan.Attr {
	for i := range doc.Attrs {
		if a := &doc.Attrs[i]; a.Space == nil && string(a.Local) == "from" {
			return a
		}
	}
	return nil
}
