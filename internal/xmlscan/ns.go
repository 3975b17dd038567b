package xmlscan

import (
	"bytes"
	"strconv"
)

// The reserved namespaces of Namespaces in XML section 3.
var (
	xmlNS   = []byte("http://www.w3.org/XML/1998/namespace") // bound to the predefined prefix xml
	xmlnsNS = []byte("http://www.w3.org/2000/xmlns/")        // of the xmlns attributes; never declared
)

// smallAttrs is the most attributes an element may have for duplicates to be
// found by comparing every pair; larger elements use a hash set.
const smallAttrs = 8

// scratch is the working storage of Parse, kept in a Doc between calls so
// that a reused Doc parses without allocating.
type scratch struct {
	frames   []frame   // open elements, the root first
	binds    []binding // prefix bindings in scope, outermost first
	attrs    []rawAttr // attributes of the start tag being scanned
	prefixes prefixTable
	seen     attrSet
}

// reset empties sc for a new document.
func (sc *scratch) reset() {
	sc.frames = sc.frames[:0]
	sc.binds = sc.binds[:0]
	sc.attrs = sc.attrs[:0]
	sc.prefixes.reset()
}

// binding is an in-scope declaration of a non-empty prefix.
type binding struct {
	prefix []byte
	uri    []byte
	prev   int32 // index in binds of the binding of the same prefix it hides, -1 for none
	bit    int32 // index of the declaration in Doc.Decls when it is on the root and that index is below 64, else -1
}

// declare applies the namespace declarations among s.attrs, which belong to
// the element of frame f at depth, and records those of the root in the Doc.
func (s *scanner) declare(f *frame, depth int) error {
	d := s.data
	for k := range s.attrs {
		a := &s.attrs[k]
		var prefix []byte
		switch {
		case a.colon < 0 && string(d[a.nameStart:a.nameEnd]) == "xmlns":
		case a.colon >= 0 && string(d[a.nameStart:a.colon]) == "xmlns":
			prefix = d[a.colon+1 : a.nameEnd]
		default:
			continue
		}
		uri := s.value(a)
		if msg := checkDecl(prefix, uri); msg != "" {
			return syntaxError(a.nameStart, msg)
		}
		a.decl, a.space, a.local = true, xmlnsNS, prefix
		bit := -1
		if depth == 1 {
			s.doc.Decls = append(s.doc.Decls, Decl{Prefix: prefix, URI: uri, ValueStart: a.valStart, ValueEnd: a.valEnd})
			if n := len(s.doc.Decls) - 1; n < 64 {
				bit = n
			}
		}
		f.ownDefault = f.ownDefault || prefix == nil
		switch {
		case prefix == nil && len(uri) == 0:
			f.defNS = nil
		case prefix == nil:
			f.defNS = uri
		case string(prefix) != "xml": // xml is predefined and stays so
			s.bind(prefix, uri, bit)
		}
	}
	return nil
}

// checkDecl checks a declaration of prefix (nil for the default namespace)
// as uri against the constraints of Namespaces in XML: NSC Reserved Prefixes
// and Namespace Names (section 3) and NSC No Prefix Undeclaring (section 5).
// It returns what is wrong, or "".
func checkDecl(prefix, uri []byte) string {
	isXML := string(prefix) == "xml"
	switch {
	case string(prefix) == "xmlns":
		return "declaration of the reserved prefix xmlns"
	case isXML && !bytes.Equal(uri, xmlNS):
		return "the xml prefix bound to a namespace other than " + string(xmlNS)
	case !isXML && bytes.Equal(uri, xmlNS):
		return "the XML namespace bound to a prefix other than xml"
	case bytes.Equal(uri, xmlnsNS):
		return "declaration of the reserved xmlns namespace"
	case prefix != nil && len(uri) == 0:
		return "undeclaring a prefix is not allowed in Namespaces in XML 1.0"
	}
	return ""
}

// resolveAttrs resolves the names of the attributes in s.attrs that are not
// namespace declarations, checks that all attribute names are unique and,
// for the root, records the attributes in the Doc.
func (s *scanner) resolveAttrs(depth int) error {
	d := s.data
	for k := range s.attrs {
		a := &s.attrs[k]
		switch {
		case a.decl:
		case a.colon < 0:
			a.space, a.local = nil, d[a.nameStart:a.nameEnd]
		default:
			// NSC Prefix Declared (section 5); unprefixed attributes are in no namespace (section 6.2).
			uri, err := s.resolve(d[a.nameStart:a.colon], a.nameStart, depth)
			if err != nil {
				return err
			}
			a.space, a.local = uri, d[a.colon+1:a.nameEnd]
		}
	}
	if err := s.unique(); err != nil {
		return err
	}
	if depth == 1 {
		for k := range s.attrs {
			if a := &s.attrs[k]; !a.decl {
				s.doc.Attrs = append(s.doc.Attrs, Attr{
					Space: a.space, Local: a.local, Value: s.value(a),
					ValueStart: a.valStart, ValueEnd: a.valEnd,
				})
			}
		}
	}
	return nil
}

// resolve returns the namespace URI prefix is bound to, for a name at off in
// an element at depth. A use below the root of a binding declared on the
// root is recorded in the Uses bits of the current child.
func (s *scanner) resolve(prefix []byte, off, depth int) ([]byte, error) {
	if string(prefix) == "xml" {
		return xmlNS, nil
	}
	h := s.prefixes.lookup(prefix)
	if h < 0 {
		return nil, syntaxError(off, "undeclared namespace prefix "+strconv.Quote(string(prefix)))
	}
	b := &s.binds[h]
	if b.bit >= 0 && depth >= 2 {
		s.doc.Children[len(s.doc.Children)-1].Uses |= 1 << uint(b.bit)
	}
	return b.uri, nil
}

// unique checks that no two attributes of the start tag have the same
// expanded name (WFC: Unique Att Spec [40] and NSC Attributes Unique of
// Namespaces in XML section 6.3). Two names that are the same qualified name
// are also the same expanded name, so one check covers both rules.
func (s *scanner) unique() error {
	a := s.attrs
	if len(a) > smallAttrs {
		if k := s.seen.firstDup(a); k >= 0 {
			return syntaxError(a[k].nameStart, "duplicate attribute")
		}
		return nil
	}
	for k := 1; k < len(a); k++ {
		for j := 0; j < k; j++ {
			if sameName(&a[j], &a[k]) {
				return syntaxError(a[k].nameStart, "duplicate attribute")
			}
		}
	}
	return nil
}

// sameName reports whether a and b have the same expanded name.
func sameName(a, b *rawAttr) bool {
	return bytes.Equal(a.local, b.local) && bytes.Equal(a.space, b.space)
}

// value returns the value of attribute a: the raw bytes when they need no
// normalization, else a normalized copy.
func (s *scanner) value(a *rawAttr) []byte {
	raw := s.data[a.valStart:a.valEnd]
	if !a.norm {
		return raw
	}
	return unescape(raw)
}

// bind brings a declaration of prefix as uri into scope.
func (s *scanner) bind(prefix, uri []byte, bit int) {
	slot := s.prefixes.insert(prefix)
	s.binds = append(s.binds, binding{
		prefix: prefix, uri: uri,
		prev: s.prefixes.slots[slot].head, bit: int32(bit),
	})
	s.prefixes.slots[slot].head = int32(len(s.binds) - 1)
}

// unbind ends the scope of the bindings from index n on.
func (s *scanner) unbind(n int) {
	for k := len(s.binds) - 1; k >= n; k-- {
		b := &s.binds[k]
		s.prefixes.slots[s.prefixes.insert(b.prefix)].head = b.prev
	}
	s.binds = s.binds[:n]
}
