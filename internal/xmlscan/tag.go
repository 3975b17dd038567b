package xmlscan

import "bytes"

// frame is an open element.
type frame struct {
	nameStart, nameEnd int    // its qualified name is data[nameStart:nameEnd]
	nbinds             int    // len(binds) before its own declarations
	defNS              []byte // default namespace in scope inside it; nil for none
	ownDefault         bool   // it declares the default namespace itself
}

// rawAttr is one attribute of the start tag being scanned.
type rawAttr struct {
	nameStart, nameEnd int
	colon              int    // index of the colon in the name, -1 when unprefixed
	valStart, valEnd   int    // the value between the quotes, unprocessed
	norm               bool   // the value has references or white space to normalize
	decl               bool   // the attribute is a namespace declaration
	space, local       []byte // expanded name; for a declaration, the xmlns namespace and the declared prefix
}

// startTag scans the STag [40] or EmptyElemTag [44] at s.pos, applies its
// namespace declarations and records it in the Doc.
func (s *scanner) startTag() error {
	start := s.pos
	depth := len(s.frames) + 1
	if depth > s.maxDepth {
		return depthError(start, depth, s.maxDepth)
	}
	nameEnd, colon, err := s.qname(start + 1)
	if err != nil {
		return err
	}
	end, empty, err := s.attributes(nameEnd)
	if err != nil {
		return err
	}
	f := frame{nameStart: start + 1, nameEnd: nameEnd, nbinds: len(s.binds)}
	if depth > 1 {
		f.defNS = s.frames[depth-2].defNS
	}
	if err := s.declare(&f, depth); err != nil {
		return err
	}
	if err := s.element(start, colon, &f, depth); err != nil {
		return err
	}
	if err := s.resolveAttrs(depth); err != nil {
		return err
	}
	s.pos = end
	if empty {
		s.close(&f, depth, end)
	} else {
		s.frames = append(s.frames, f)
	}
	return nil
}

// attributes scans the rest of a start tag from i, just past the element
// name: (S Attribute)* S? followed by '>' or '/>'. It returns the index just
// past the tag and whether the element is empty.
func (s *scanner) attributes(i int) (end int, empty bool, err error) {
	d := s.data
	s.attrs = s.attrs[:0]
	for {
		j := skipSpace(d, i)
		switch {
		case j >= len(d):
			return 0, false, s.eof()
		case d[j] == '>':
			return j + 1, false, nil
		case d[j] == '/' && j+1 >= len(d):
			return 0, false, s.eof()
		case d[j] == '/' && d[j+1] == '>':
			return j + 2, true, nil
		case d[j] == '/':
			return 0, false, syntaxError(j+1, "expected '>' after '/' in tag")
		case j == i:
			return 0, false, syntaxError(j, "expected white space, '>' or '/>' in tag")
		}
		if i, err = s.attribute(j); err != nil {
			return 0, false, err
		}
	}
}

// attribute scans the Attribute [41] at i, Name Eq AttValue, appends it to
// s.attrs and returns the index just past its closing quote.
func (s *scanner) attribute(i int) (int, error) {
	if len(s.attrs) >= s.maxAttrs {
		return 0, attrsError(i, s.maxAttrs)
	}
	d := s.data
	nameEnd, colon, err := s.qname(i)
	if err != nil {
		return 0, err
	}
	j := skipSpace(d, nameEnd)
	if j < len(d) && d[j] != '=' {
		return 0, syntaxError(j, "expected '=' after attribute name")
	}
	if j = skipSpace(d, j+1); j >= len(d) {
		return 0, s.eof()
	}
	q := d[j]
	if q != '"' && q != '\'' {
		return 0, syntaxError(j, "attribute value must be quoted")
	}
	end, norm, err := s.attValue(j+1, q)
	if err != nil {
		return 0, err
	}
	s.attrs = append(s.attrs, rawAttr{
		nameStart: i, nameEnd: nameEnd, colon: colon,
		valStart: j + 1, valEnd: end, norm: norm,
	})
	return end + 1, nil
}

// attValue scans the AttValue [10] from i, just past its opening quote q, to
// the closing quote and returns the index of that quote. norm reports
// whether the value has references or white space that normalization
// (section 3.3.3) changes, so that it cannot be used as it stands.
func (s *scanner) attValue(i int, q byte) (end int, norm bool, err error) {
	d := s.data
	for i < len(d) {
		c := d[i]
		if class[c]&cAttr != 0 {
			i++
			continue
		}
		switch {
		case c == q:
			return i, norm, nil
		case c == '"' || c == '\'':
			i++
		case c == '\t' || c == '\n' || c == '\r':
			norm = true
			i++
		case c == '&':
			norm = true
			i, err = s.reference(i)
		case c == '<':
			err = syntaxError(i, "'<' in attribute value")
		case c >= 0x80:
			i, err = s.char(i)
		default:
			err = syntaxError(i, "control character in attribute value")
		}
		if err != nil {
			return 0, false, err
		}
	}
	return 0, false, s.eof()
}

// element resolves the name of the element whose start tag begins at start
// and records it as the root or as a child of the root.
func (s *scanner) element(start, colon int, f *frame, depth int) error {
	d, doc := s.data, s.doc
	local := d[f.nameStart:f.nameEnd]
	if colon >= 0 {
		local = d[colon+1 : f.nameEnd]
	}
	if depth == 2 {
		doc.Children = append(doc.Children, Child{Start: start, NameEnd: f.nameEnd, Local: local, DefaultNS: colon < 0 && !f.ownDefault})
	}
	space := f.defNS
	if colon >= 0 {
		prefix := d[f.nameStart:colon]
		if string(prefix) == "xmlns" {
			// Namespaces in XML section 3: element names must not have the prefix xmlns.
			return syntaxError(f.nameStart, "element name with the reserved prefix xmlns")
		}
		var err error
		if space, err = s.resolve(prefix, f.nameStart, depth); err != nil {
			return err
		}
	}
	switch depth {
	case 1:
		doc.Space, doc.Local = space, local
		doc.Start, doc.NameEnd = start, f.nameEnd
	case 2:
		doc.Children[len(doc.Children)-1].Space = space
	}
	return nil
}

// endTag scans the ETag [42] at s.pos, '</' Name S? '>', whose name must
// match the innermost open element's (WFC: Element Type Match), and closes
// that element.
func (s *scanner) endTag() error {
	d := s.data
	depth := len(s.frames)
	f := s.frames[depth-1]
	name := d[f.nameStart:f.nameEnd]
	i := s.pos + 2
	if !bytes.HasPrefix(d[i:], name) {
		if bytes.HasPrefix(name, d[i:]) {
			return s.eof()
		}
		return s.mismatch(i, name)
	}
	i += len(name)
	j := skipSpace(d, i)
	switch {
	case j >= len(d):
		return s.eof()
	case d[j] != '>' && j == i:
		return s.mismatch(s.pos+2, name)
	case d[j] != '>':
		return syntaxError(j, "expected '>' in end tag")
	}
	s.pos = j + 1
	s.frames = s.frames[:depth-1]
	s.close(&f, depth, j+1)
	return nil
}

// mismatch reports an end tag at i that does not match the open element name.
func (s *scanner) mismatch(i int, name []byte) error {
	return syntaxError(i, "end tag does not match start tag <"+string(name)+">")
}

// close ends the scope of element f at depth, whose last byte is at end-1.
func (s *scanner) close(f *frame, depth, end int) {
	s.unbind(f.nbinds)
	if depth == 2 {
		s.doc.Children[len(s.doc.Children)-1].End = end
	}
}
