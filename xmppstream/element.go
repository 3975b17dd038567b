package xmppstream

// Element is the root of a stanza as the Server parsed it, once: what a
// Core reads of the root's attributes and children without parsing
// Stanza.Raw again. It describes Raw as stamped: 'from' is the client's
// full JID and the default namespace jabber:client (XEP-0206 §2).
//
// Its byte slices alias Raw or the client's bytes Raw was made from; they
// are never modified, and a Core must not modify them either.
type Element struct {
	// Space is the root's namespace: jabber:client, unless the client
	// bound the root's prefix to another namespace. Local is its local
	// name, the Stanza's Name.
	Space, Local []byte
	// Attrs are the root's attributes, namespace declarations aside, in
	// the order they have in Raw.
	Attrs []Attr
	// Decls are the root's declarations of prefixes, which its children
	// may rely on.
	Decls []Decl
	// Children are the root's child elements, in order.
	Children []Child
}

// Attr is one attribute of a stanza's root: {Space}Local='Value'.
type Attr struct {
	Space []byte // the namespace of the attribute's prefix; nil when unprefixed
	Local []byte
	Value []byte // unescaped and normalized (XML 1.0 §3.3.3)
}

// Decl is a namespace declaration xmlns:Prefix='URI' on a stanza's root.
type Decl struct {
	Prefix []byte
	URI    []byte // unescaped
}

// Child is one child element of a stanza's root.
type Child struct {
	Space []byte // its namespace; nil for none
	Local []byte
	Raw   []byte // its bytes, from '<' to the final '>'
}

// Attr returns the value of the root's attribute {space}local; space is
// "" for an unprefixed attribute.
func (e *Element) Attr(space, local string) ([]byte, bool) {
	for i := range e.Attrs {
		a := &e.Attrs[i]
		if string(a.Local) == local && string(a.Space) == space {
			return a.Value, true
		}
	}
	return nil, false
}
