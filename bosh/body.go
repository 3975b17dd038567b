package bosh

import (
	"bytes"
	"encoding/xml"
	"errors"
	"strconv"
	"time"

	"github.com/httpbind/httpbind/internal/xmlscan"
	"github.com/httpbind/httpbind/internal/xmppwire"
	"github.com/httpbind/httpbind/session"
)

// Namespaces of the wire format.
const (
	NS      = xmppwire.NSHTTPBind // XEP-0124 <body/>
	NSXBOSH = xmppwire.NSXBOSH    // XEP-0206 attributes
	nsXML   = xmppwire.NSXML
)

// maxRID is the largest rid a client may use (§14.1: 2^53-1).
const maxRID = 1<<53 - 1

// body is a decoded request <body/>. Byte slices alias the request buffer.
type body struct {
	rid                               uint64
	sid, to, from, lang, route, ver   []byte
	content, key, newkey, stream, typ []byte
	wait, hold, pause, ack            int64 // -1 when absent
	restart                           bool  // {urn:xmpp:xbosh}restart is true or 1
	foreign                           bool  // has attributes in other namespaces
	payloads                          [][]byte
	doc                               *xmlscan.Doc
}

// decodeBody checks data (UTF-8) as a BOSH <body/> (§6), which holds no
// character data directly, and decodes its attributes. Every failure is an
// *Error: bad-request for malformed input, policy-violation for input over
// the configured limits. b.doc stays nil when data is not a well-formed
// BOSH <body/>.
func decodeBody(data []byte, lim xmlscan.Limits, doc *xmlscan.Doc, b *body) error {
	*b = body{wait: -1, hold: -1, pause: -1, ack: -1, payloads: b.payloads[:0]}
	lim.NoRootText = true
	if err := xmlscan.Parse(data, lim, doc); err != nil {
		if errors.Is(err, xmlscan.ErrLimit) {
			return newError(PolicyViolation, err)
		}
		return newError(BadRequest, err)
	}
	if string(doc.Local) != "body" || string(doc.Space) != NS {
		return newError(BadRequest, errors.New("bosh: root is not {"+NS+"}body"))
	}
	b.doc = doc
	var first error
	for i := range doc.Attrs {
		// Decode every attribute even after an error, so that 'sid' and
		// 'ver' are known and the refusal is answered as the session
		// expects (§17.1: legacy status or not).
		if err := b.setAttr(&doc.Attrs[i]); err != nil && first == nil {
			first = err
		}
	}
	if first != nil {
		return first
	}
	for _, c := range doc.Children {
		b.payloads = append(b.payloads, carry(data, c, doc.Decls))
	}
	return nil
}

func (b *body) setAttr(a *xmlscan.Attr) error {
	v := a.Value
	switch string(a.Space) {
	case "":
	case nsXML:
		if string(a.Local) == "lang" {
			b.lang = v
		}
		return nil
	case NSXBOSH:
		b.foreign = true
		if string(a.Local) == "restart" {
			b.restart = string(v) == "true" || string(v) == "1" // xs:boolean
		}
		return nil
	default:
		b.foreign = true
		return nil
	}
	var err error
	switch local := string(a.Local); local {
	case "rid":
		var n int64
		n, err = parseNum(v, maxRID)
		if err == nil && n == 0 {
			err = errors.New("bosh: rid must be positive")
		}
		b.rid = uint64(n)
	case "ack":
		b.ack, err = parseNum(v, maxRID)
	case "pause":
		b.pause, err = parseNum(v, 1<<31)
	case "wait":
		b.wait, err = parseNum(v, 1<<31)
	case "hold":
		b.hold, err = parseNum(v, 1<<31)
	default:
		for _, t := range &textAttrs {
			if t.name == local {
				*t.field(b) = v
				break
			}
		}
	}
	if err != nil {
		return newError(BadRequest, errors.New("bosh: attribute "+string(a.Local)+": "+err.Error()))
	}
	return nil
}

// textAttrs are the <body/> attributes kept as the client's bytes, with
// the field of each, the per-request ones first (§7.1, §8, §15, §16).
// Unknown attributes are ignored.
var textAttrs = [...]struct {
	name  string
	field func(*body) *[]byte
}{
	{"sid", func(b *body) *[]byte { return &b.sid }},
	{"key", func(b *body) *[]byte { return &b.key }},
	{"type", func(b *body) *[]byte { return &b.typ }},
	{"stream", func(b *body) *[]byte { return &b.stream }},
	{"newkey", func(b *body) *[]byte { return &b.newkey }},
	{"to", func(b *body) *[]byte { return &b.to }},
	{"from", func(b *body) *[]byte { return &b.from }},
	{"route", func(b *body) *[]byte { return &b.route }},
	{"ver", func(b *body) *[]byte { return &b.ver }},
	{"content", func(b *body) *[]byte { return &b.content }},
}

// parseNum parses a non-negative decimal integer no larger than max (§22:
// xs:positiveInteger, xs:unsignedShort, xs:unsignedByte; values above the
// schema's range are capped by the caller or refused here).
func parseNum(v []byte, max int64) (int64, error) {
	if len(v) == 0 || len(v) > 20 {
		return 0, errors.New("not a number")
	}
	var n int64
	for _, c := range v {
		if c < '0' || c > '9' {
			return 0, errors.New("not a non-negative integer")
		}
		n = n*10 + int64(c-'0')
		if n > max {
			return 0, errors.New("out of range")
		}
	}
	return n, nil
}

// attrs returns the attributes handed to the upstream: 'to', 'xml:lang'
// and those in other namespaces.
func (b *body) attrs() []xml.Attr {
	var out []xml.Attr
	for _, a := range b.doc.Attrs {
		switch {
		case len(a.Space) == 0 && string(a.Local) != "to":
			continue
		case string(a.Space) == nsXML && string(a.Local) != "lang":
			continue
		}
		out = append(out, xml.Attr{Name: xml.Name{Space: string(a.Space), Local: string(a.Local)}, Value: string(a.Value)})
	}
	return out
}

// carry returns the bytes of child c, adding to its start tag the
// declarations of the <body/> prefixes it relies on, so that it stands on
// its own (DESIGN: raw passthrough).
func carry(data []byte, c xmlscan.Child, decls []xmlscan.Decl) []byte {
	raw := data[c.Start:c.End]
	if c.Uses == 0 {
		return raw
	}
	name := c.NameEnd - c.Start
	var buf bytes.Buffer
	buf.Grow(len(raw) + 64)
	buf.Write(raw[:name])
	for i, d := range decls {
		if i < 64 && c.Uses&(1<<i) != 0 {
			buf.WriteString(" xmlns:")
			buf.Write(d.Prefix)
			buf.WriteString("='")
			escapeAttr(&buf, d.URI)
			buf.WriteByte('\'')
		}
	}
	buf.Write(raw[name:])
	return buf.Bytes()
}

// escapeAttr writes v escaped for a single-quoted attribute value.
func escapeAttr(buf *bytes.Buffer, v []byte) {
	buf.Write(xmppwire.AppendAttr(buf.AvailableBuffer(), v))
}

// bodySize is about the length of r's encoded body, so that an encoded
// reply (kept for a retransmission, §14.3) takes one allocation and no
// more room than it needs, escapes aside.
func bodySize(r *session.Reply) int {
	n := len("<body xmlns='" + NS + "'></body>")
	for _, v := range [...]string{r.Type, string(r.Condition), r.Stream} {
		if v != "" {
			n += len(" condition=''") + len(v)
		}
	}
	if r.Ack != 0 {
		n += len(" ack=''") + 20
	}
	if r.Report != 0 {
		n += len(" report='' time=''") + 40
	}
	for _, a := range r.Attrs {
		n += len(a.Name) + len(a.Value) + 4
	}
	for _, p := range r.Payloads {
		n += len(p)
	}
	return n
}

// appendBody appends one complete <body/> to dst: the BOSH attributes, the
// extra attributes (the last of two with one name wins) and the payloads
// as they are (§6). It writes no XML declaration, comment or whitespace.
func appendBody(dst []byte, f *session.Reply) []byte {
	buf := bytes.NewBuffer(dst)
	buf.WriteString("<body xmlns='" + NS + "'")
	str := func(name, v string) {
		if v != "" {
			buf.WriteString(" " + name + "='")
			escapeAttr(buf, []byte(v))
			buf.WriteByte('\'')
		}
	}
	num := func(name string, v uint64) {
		buf.WriteString(" " + name + "='")
		var tmp [20]byte
		buf.Write(strconv.AppendUint(tmp[:0], v, 10))
		buf.WriteByte('\'')
	}
	str("type", f.Type)
	str("condition", string(f.Condition))
	str("stream", f.Stream)
	if f.Ack != 0 {
		num("ack", f.Ack)
	}
	if f.Report != 0 {
		num("report", f.Report)
		num("time", uint64(f.Time/time.Millisecond))
	}
	for i, a := range f.Attrs {
		if a.Name == "" || overridden(f.Attrs[i+1:], a.Name) {
			continue
		}
		buf.WriteString(" " + a.Name + "='")
		escapeAttr(buf, []byte(a.Value))
		buf.WriteByte('\'')
	}
	if len(f.Payloads) == 0 {
		buf.WriteString("/>")
		return buf.Bytes()
	}
	buf.WriteByte('>')
	for _, p := range f.Payloads {
		buf.Write(p)
	}
	buf.WriteString("</body>")
	return buf.Bytes()
}

func overridden(later []Attr, name string) bool {
	for _, a := range later {
		if a.Name == name {
			return true
		}
	}
	return false
}
