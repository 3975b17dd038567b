package xmppstream

import (
	"bytes"
	"errors"
	"reflect"
	"testing"

	"github.com/httpbind/httpbind/internal/xmlscan"
)

// FuzzInspectStanza checks inspectStanza on arbitrary well-formed input:
// it never panics, refuses only with a stream error or a stanza error, and
// an accepted stanza is a well-formed jabber:client element whose 'from' is
// the full JID, with every other attribute, declaration and child as the
// client wrote it, and the Stanza's Element is what parsing that element
// gives; inspecting the result again changes nothing.
func FuzzInspectStanza(f *testing.F) {
	for _, s := range []string{
		// XEP-0206 Examples 10 and 12 (with the body's white space).
		"<iq id='bind_1'\n      type='set'\n      xmlns='jabber:client'>\n    <bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>\n      <resource>httpclient</resource>\n    </bind>\n  </iq>",
		"<message from='contact@example.com'\n           to='user@example.com'\n           xmlns='jabber:client'>\n    <body>I said \"Hi!\"</body>\n  </message>",
		"<iq type='set' id='sess_1' to='example.com'><session xmlns='urn:ietf:params:xml:ns:xmpp-session'/></iq>",
		"<presence/>",
		"<presence xmlns='http://jabber.org/protocol/httpbind' type='unavailable'/>",
		"<message to='romeo@example.net' from='juliet@example.com' xml:lang='en'><body>a &gt; b</body></message>",
		"<message from=\"juliet@example.com/balcony\" to=\"romeo@example.net\"><body>'/>'</body></message>",
		"<c:message xmlns:c='jabber:client' xmlns='urn:x' to='a@b'><body/></c:message>",
		"<message xmlns=''  to = 'a@b' ><x a='&apos;&#62;'/></message>",
		"<iq type='get' from='romeo@example.net'/>",
		"<message to='@bad'/>",
		"<?xml version='1.0'?><message/>",
		"<stream:features xmlns:stream='http://etherx.jabber.org/streams'/>",
	} {
		f.Add([]byte(s))
	}
	from := JID{Local: "juliet", Domain: "example.com", Resource: "balcony"}
	f.Fuzz(func(t *testing.T, raw []byte) {
		var in, out xmlscan.Doc
		if xmlscan.Parse(raw, xmlscan.Limits{NoRootText: true}, &in) != nil {
			return
		}
		st, err := inspectStanza(raw, &in, from)
		var se streamError
		var ste *StanzaError
		switch {
		case errors.As(err, &se), errors.As(err, &ste):
			return
		case err != nil:
			t.Fatalf("unexpected error %v", err)
		}
		if err := xmlscan.Parse(st.Raw, xmlscan.Limits{NoRootText: true}, &out); err != nil {
			t.Fatalf("stamped stanza is not well-formed: %v\n%s", err, st.Raw)
		}
		if string(out.Space) != nsClient || string(out.Local) != st.Name {
			t.Fatalf("root {%s}%s, stanza %s\n%s", out.Space, out.Local, st.Name, st.Raw)
		}
		if v, _ := out.Attr("", "from"); string(v) != from.String() {
			t.Fatalf("from %q\n%s", v, st.Raw)
		}
		for _, a := range in.Attrs {
			if len(a.Space) == 0 && string(a.Local) == "from" {
				continue
			}
			if v, ok := out.Attr(string(a.Space), string(a.Local)); !ok || !bytes.Equal(v, a.Value) {
				t.Fatalf("attribute {%s}%s changed to %q\n%s", a.Space, a.Local, v, st.Raw)
			}
		}
		for _, d := range in.Decls {
			if len(d.Prefix) > 0 && !hasDecl(&out, d) {
				t.Fatalf("declaration xmlns:%s lost\n%s", d.Prefix, st.Raw)
			}
		}
		if len(out.Children) != len(in.Children) {
			t.Fatalf("children changed\n%s\n%s", raw, st.Raw)
		}
		for i, c := range in.Children {
			o := out.Children[i]
			if !bytes.Equal(raw[c.Start:c.End], st.Raw[o.Start:o.End]) {
				t.Fatalf("child %d changed\n%s\n%s", i, raw, st.Raw)
			}
		}
		if got, want := describeElement(st.Element), describe(t, st.Raw); !reflect.DeepEqual(got, want) {
			t.Fatalf("the Element is not Raw parsed: %+v, want %+v\n%s", got, want, st.Raw)
		}
		again, err := inspectStanza(st.Raw, &out, from)
		if err != nil || !bytes.Equal(again.Raw, st.Raw) {
			t.Fatalf("not stable: %v\n%s\n%s", err, st.Raw, again.Raw)
		}
	})
}

func hasDecl(doc *xmlscan.Doc, d xmlscan.Decl) bool {
	for _, o := range doc.Decls {
		if bytes.Equal(o.Prefix, d.Prefix) && bytes.Equal(o.URI, d.URI) {
			return true
		}
	}
	return false
}
