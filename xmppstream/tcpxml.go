package xmppstream

import (
	"bytes"
	"fmt"

	"github.com/httpbind/httpbind/internal/xmlscan"
	"github.com/httpbind/httpbind/internal/xmppwire"
)

// Namespaces the TCP upstream reads in the server's features (RFC 6120
// §5.4.1, XEP-0138 §2).
const (
	nsTLS      = xmppwire.NSTLS
	nsCompress = "http://jabber.org/features/compress"
)

// maxHeaderDecls bounds the namespace declarations on a server's stream
// header: xmlscan reports the use of the first 64 only (Child.Uses).
const maxHeaderDecls = 64

// elementLimits check one server element inside the wrapper that carries
// the stream header's declarations.
var elementLimits = xmlscan.Limits{MaxDepth: readerMaxDepth + 1, MaxAttrs: 1024}

// featuresLimits check <stream:features/> on its own: its children are
// elements, with nothing but white space between them (RFC 6120 §4.3.2).
var featuresLimits = xmlscan.Limits{MaxDepth: stanzaLimits.MaxDepth, MaxAttrs: stanzaLimits.MaxAttrs, NoRootText: true}

// decl is a namespace declaration of the server's stream header.
type decl struct {
	prefix, uri string // prefix "" is the default namespace
}

// streamHeader is what the server's stream header says (RFC 6120 §4.7).
type streamHeader struct {
	id, from, version string
	decls             []decl
	wrap              []byte // "<w" + the declarations + ">", to check elements in their context
}

// parseHeader checks a stream header item (with the XML declaration
// before it, if any) and returns its attributes. qname is the header's
// name as written.
func parseHeader(raw []byte, qname string, doc *xmlscan.Doc) (*streamHeader, error) {
	b := append(append(append(raw, "</"...), qname...), '>')
	if err := xmlscan.Parse(b, xmlscan.Limits{MaxDepth: 1, MaxAttrs: 2 * maxHeaderDecls}, doc); err != nil {
		return nil, fmt.Errorf("%w: stream header: %v", errServerXML, err)
	}
	if string(doc.Space) != nsStream || string(doc.Local) != "stream" {
		return nil, fmt.Errorf("%w: stream header is {%s}%s", errServerXML, doc.Space, doc.Local)
	}
	if len(doc.Decls) > maxHeaderDecls {
		return nil, fmt.Errorf("%w: %d namespace declarations on the stream header", errServerXML, len(doc.Decls))
	}
	h := &streamHeader{}
	id, _ := doc.Attr("", "id")
	from, _ := doc.Attr("", "from")
	version, _ := doc.Attr("", "version")
	h.id, h.from, h.version = string(id), string(from), string(version)
	var w bytes.Buffer
	w.WriteString("<w")
	for _, d := range doc.Decls {
		h.decls = append(h.decls, decl{prefix: string(d.Prefix), uri: string(d.URI)})
		writeDecl(&w, string(d.Prefix), string(d.URI))
	}
	w.WriteByte('>')
	h.wrap = w.Bytes()
	return h, nil
}

// writeDecl writes " xmlns='uri'" or " xmlns:prefix='uri'".
func writeDecl(b *bytes.Buffer, prefix, uri string) {
	b.WriteString(" xmlns")
	if prefix != "" {
		b.WriteString(":" + prefix)
	}
	b.WriteString("='")
	escapeAttr(b, uri)
	b.WriteByte('\'')
}

// checked is a server element made ready for the client.
type checked struct {
	raw          []byte // the element with the declarations it inherited from the stream header
	space, local string // its root's name
	usesStream   bool   // it is in the stream namespace or uses the header's binding of it
}

// element checks a top-level element in the context of the stream header
// with xmlscan and makes it self-contained: the header's declarations the
// element relies on are declared on its root, so that stanzas that
// inherit jabber:client from the header carry xmlns='jabber:client'
// (XEP-0206 §2) and <stream:features/> and
// <stream:error/> declare the stream prefix. Nothing else of
// the server's bytes changes; entities are never expanded.
func (h *streamHeader) element(ev event, doc *xmlscan.Doc) (checked, error) {
	w := make([]byte, 0, len(h.wrap)+len(ev.raw)+4)
	w = append(append(append(w, h.wrap...), ev.raw...), "</w>"...)
	if err := xmlscan.Parse(w, elementLimits, doc); err != nil || len(doc.Children) != 1 {
		return checked{}, fmt.Errorf("%w: %v", errServerXML, err)
	}
	c := doc.Children[0]
	out := checked{space: string(c.Space), local: string(c.Local), usesStream: string(c.Space) == nsStream}
	var ins bytes.Buffer
	if ev.usesDefault {
		def := ""
		for _, d := range h.decls {
			if d.prefix == "" {
				def = d.uri
			}
		}
		writeDecl(&ins, "", def)
	}
	for i, d := range h.decls {
		if d.prefix != "" && c.Uses&(1<<i) != 0 {
			writeDecl(&ins, d.prefix, d.uri)
			out.usesStream = out.usesStream || d.uri == nsStream
		}
	}
	out.raw = make([]byte, 0, len(ev.raw)+ins.Len())
	out.raw = append(append(append(out.raw, ev.raw[:ev.nameEnd]...), ins.Bytes()...), ev.raw[ev.nameEnd:]...)
	return out, nil
}

// stripFeatures removes from <stream:features/> what a BOSH client must
// not see: STARTTLS (XEP-0206 §4; the connection manager
// has done it) and stream compression. It reports whether
// <starttls/> was offered.
func stripFeatures(features []byte, doc *xmlscan.Doc) ([]byte, bool) {
	if xmlscan.Parse(features, featuresLimits, doc) != nil {
		return features, false // checked in context already; leave it as sent
	}
	var out []byte
	tls, last := false, 0
	for _, c := range doc.Children {
		drop := false
		switch {
		case string(c.Space) == nsTLS && string(c.Local) == "starttls":
			tls, drop = true, true
		case string(c.Space) == nsCompress && string(c.Local) == "compression":
			drop = true
		}
		if drop {
			out = append(out, features[last:c.Start]...)
			last = c.End
		}
	}
	if last == 0 {
		return features, tls
	}
	return append(out, features[last:]...), tls
}
