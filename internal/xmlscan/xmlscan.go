package xmlscan

import (
	"errors"
	"fmt"
	"strconv"
	"sync"
)

// Attr is one attribute of the root element (namespace declarations are in Doc.Decls instead).
//
// Value is the normalized attribute value of XML 1.0 section 3.3.3: besides
// replacing references, each literal TAB, LF, CR or CR LF pair becomes a
// space, so a value holding such white space is a copy too. The same holds
// for Decl.URI.
type Attr struct {
	Space []byte // namespace URI the attribute's prefix resolves to; nil for an unprefixed attribute
	Local []byte // local name
	Value []byte // value with character and entity references replaced; aliases the input when it had none

	// ValueStart and ValueEnd locate the value as written, between its
	// quotes: data[ValueStart:ValueEnd], so that a caller can rewrite it
	// in place.
	ValueStart, ValueEnd int
}

// Decl is a namespace declaration on the root element: xmlns='URI' (Prefix empty) or xmlns:Prefix='URI'.
type Decl struct {
	Prefix []byte
	URI    []byte // unescaped

	// ValueStart and ValueEnd locate the URI as written, between its
	// quotes: data[ValueStart:ValueEnd].
	ValueStart, ValueEnd int
}

// Child is one direct child element of the root.
type Child struct {
	Start, End int    // the child element's bytes are data[Start:End], from '<' to the final '>'
	NameEnd    int    // the offset just past the child's qualified name, where attributes can be inserted
	Space      []byte // the child's resolved namespace URI (nil when no default namespace is in scope)
	Local      []byte // the child's local name
	Uses       uint64 // bit i is set when the child's subtree uses, in an element or attribute name, a prefix that resolves to Doc.Decls[i] (i < 64), i.e. the child relies on the root's declaration and does not redeclare that prefix itself; default-namespace declarations never set bits

	// DefaultNS is set when the child's name is unprefixed and it does not
	// declare the default namespace itself: it is in the root's default
	// namespace, and would follow the root's if that changed.
	DefaultNS bool
}

// Doc is the result of Parse. Reuse one Doc across calls to avoid allocations: Parse resets it, keeping slice capacity.
//
// The byte slices in a Doc alias the parsed input (or, for values that had to
// be unescaped, fresh memory, or for the predefined xml prefix a shared
// package value); callers must not modify them.
type Doc struct {
	Space, Local []byte // root element's resolved namespace URI and local name
	Attrs        []Attr
	Decls        []Decl
	Children     []Child

	// Start is the offset of the root's '<', after any prolog; NameEnd is
	// the offset just past its qualified name, where attributes can be
	// inserted.
	Start, NameEnd int
	// RootText is set when the root holds character data other than white
	// space directly, as <auth>base64</auth> does; never with
	// Limits.NoRootText, which refuses it.
	RootText bool

	scratch scratch // working storage reused by Parse
}

// docs holds Docs for reuse across the program's parsers.
var docs = sync.Pool{New: func() any { return new(Doc) }}

// GetDoc returns a Doc from a pool shared by the program's parsers: Parse
// allocates nothing into a Doc whose slices have room. Give it back with
// PutDoc once nothing points into it.
func GetDoc() *Doc { return docs.Get().(*Doc) }

// PutDoc gives back a Doc from GetDoc.
func PutDoc(d *Doc) { docs.Put(d) }

// Limits bounds a document. Zero values mean: MaxDepth 32, MaxAttrs 64,
// and character data allowed anywhere inside the root. Negative values are
// treated like zero.
type Limits struct {
	MaxDepth int // deepest element nesting allowed, the root being depth 1
	MaxAttrs int // most attributes (including namespace declarations) on any one element
	// NoRootText refuses character data directly inside the root other
	// than white space: text, references and CDATA sections with text.
	// XEP-0124 §6 asks this of <body/>, whose children are elements only;
	// a single stanza, such as <auth>base64</auth>, may hold text.
	NoRootText bool
}

// Default limits used for zero Limits fields.
const (
	defaultMaxDepth = 32
	defaultMaxAttrs = 64
)

// ErrLimit is wrapped by errors for documents that break a Limits value.
var ErrLimit = errors.New("xmlscan: limit exceeded")

// SyntaxError reports a document that is not well-formed (or not namespace-well-formed, or uses a construct BOSH forbids).
type SyntaxError struct {
	Offset int // byte offset where the problem was found
	Msg    string
}

// Error returns "xmlscan: <msg> at offset N".
func (e *SyntaxError) Error() string {
	return "xmlscan: " + e.Msg + " at offset " + strconv.Itoa(e.Offset)
}

// Parse checks data and fills doc. data must be UTF-8 (the caller converts other charsets first).
//
// Parse returns a *SyntaxError when data is not a well-formed, namespace
// well-formed document in the subset BOSH allows (with the rule of
// lim.NoRootText when it is set), and an error wrapping
// ErrLimit as soon as it sees an element that breaks lim. On error the
// contents of doc are unspecified. Parse may run in parallel on distinct
// Docs, never on the same one.
func Parse(data []byte, lim Limits, doc *Doc) error {
	doc.reset()
	s := scanner{
		data:     data,
		doc:      doc,
		scratch:  &doc.scratch,
		maxDepth: lim.MaxDepth,
		maxAttrs: lim.MaxAttrs,
		noText:   lim.NoRootText,
	}
	if s.maxDepth <= 0 {
		s.maxDepth = defaultMaxDepth
	}
	if s.maxAttrs <= 0 {
		s.maxAttrs = defaultMaxAttrs
	}
	return s.document()
}

// Attr returns the value of the root attribute with the given namespace URI ("" for unprefixed) and local name.
func (d *Doc) Attr(space, local string) (value []byte, ok bool) {
	for i := range d.Attrs {
		a := &d.Attrs[i]
		if string(a.Local) == local && string(a.Space) == space {
			return a.Value, true
		}
	}
	return nil, false
}

// reset empties d for a new parse, keeping the capacity of its slices.
func (d *Doc) reset() {
	d.Space, d.Local = nil, nil
	d.Attrs = d.Attrs[:0]
	d.Decls = d.Decls[:0]
	d.Children = d.Children[:0]
	d.Start, d.NameEnd, d.RootText = 0, 0, false
	d.scratch.reset()
}

// syntaxError returns a *SyntaxError at offset off.
func syntaxError(off int, msg string) error {
	return &SyntaxError{Offset: off, Msg: msg}
}

// depthError reports an element nested deeper than the limit allows.
func depthError(off, depth, limit int) error {
	return fmt.Errorf("xmlscan: element depth %d over %d at offset %d: %w", depth, limit, off, ErrLimit)
}

// attrsError reports an element with more attributes than the limit allows.
func attrsError(off, limit int) error {
	return fmt.Errorf("xmlscan: more than %d attributes on an element at offset %d: %w", limit, off, ErrLimit)
}
