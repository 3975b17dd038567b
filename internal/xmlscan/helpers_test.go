package xmlscan

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
)

// Example bodies from XEP-0124 and XEP-0206.
const (
	exRequest = `<body rid='1573741821' sid='Z3Ht6bA1Ks9RmcP0' ack='1573741820' xmlns='http://jabber.org/protocol/httpbind'><message to='juliet@example.com' xmlns='jabber:client'><body>Wherefore art thou, Romeo?</body></message></body>`

	exCreate = `<body content='text/xml; charset=utf-8' from='user@example.com' hold='1' rid='1573741820' to='example.com' route='xmpp:example.com:9999' ver='1.6' wait='60' ack='1' xml:lang='en' xmlns='http://jabber.org/protocol/httpbind'/>`

	exCreateXMPP = `<body content='text/xml; charset=utf-8' from='user@example.com' hold='1' rid='1573741820' to='example.com' route='xmpp:example.com:9999' secure='true' ver='1.6' wait='60' ack='1' xml:lang='en' xmlns='http://jabber.org/protocol/httpbind' xmlns:xmpp='urn:xmpp:xbosh' xmpp:version='1.0'/>`

	exCreateResponse = `<body wait='60' inactivity='30' polling='5' requests='2' hold='1' ack='1573741820' accept='deflate,gzip' maxpause='120' sid='SomeSID' charsets='ISO_8859-1 ISO-2022-JP' ver='1.6' from='example.com' xmlns='http://jabber.org/protocol/httpbind'/>`

	exRestart = `<body rid='1573741824' sid='SomeSID' to='example.com' xml:lang='en' xmpp:restart='true' xmlns='http://jabber.org/protocol/httpbind' xmlns:xmpp='urn:xmpp:xbosh'/>`

	exMessages = `<body rid='1249243562' sid='SomeSID' xmlns='http://jabber.org/protocol/httpbind'>
  <message to='contact@example.com' xmlns='jabber:client'><body>I said "Hi!"</body></message>
  <message to='friend@example.com' xmlns='jabber:client'><body>I said "Hi!"</body></message>
</body>`

	exTerminate = `<body rid='1249243565' sid='SomeSID' type='terminate' xmlns='http://jabber.org/protocol/httpbind'><presence type='unavailable' xmlns='jabber:client'/></body>`

	exFeatures = `<body wait='60' inactivity='30' polling='5' requests='2' hold='1' from='example.com' accept='deflate,gzip' sid='SomeSID' secure='true' charsets='ISO_8859-1 ISO-2022-JP' xmpp:restartlogic='true' xmpp:version='1.0' authid='ServerStreamID' xmlns='http://jabber.org/protocol/httpbind' xmlns:xmpp='urn:xmpp:xbosh' xmlns:stream='http://etherx.jabber.org/streams'><stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>SCRAM-SHA-1</mechanism><mechanism>PLAIN</mechanism></mechanisms></stream:features></body>`

	exAuth = `<body rid='1573741821' sid='SomeSID' xmlns='http://jabber.org/protocol/httpbind'><auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='SCRAM-SHA-1'>biwsbj1qdWxpZXQscj1vTXNUQUF3QUFBQU1BQUFBTlAwVEFBQUFBQUJQVTBBQQ==</auth></body>`
)

// examples lists the example bodies.
var examples = []string{
	exRequest, exCreate, exCreateXMPP, exCreateResponse, exRestart,
	exMessages, exTerminate, exFeatures, exAuth,
}

// summary is a Doc in a form that is easy to compare and print.
type summary struct {
	Space, Local string
	Attrs        []string // "{space}local=value"
	Decls        []string // "prefix=uri"
	Children     []childSummary
}

// childSummary is a Child in a form that is easy to compare and print.
type childSummary struct {
	XML, Space, Local string
	Uses              uint64
}

// summarize returns the summary of doc, parsed from data.
func summarize(data []byte, doc *Doc) summary {
	s := summary{Space: string(doc.Space), Local: string(doc.Local)}
	for _, a := range doc.Attrs {
		s.Attrs = append(s.Attrs, "{"+string(a.Space)+"}"+string(a.Local)+"="+string(a.Value))
	}
	for _, d := range doc.Decls {
		s.Decls = append(s.Decls, string(d.Prefix)+"="+string(d.URI))
	}
	for _, c := range doc.Children {
		s.Children = append(s.Children, childSummary{
			XML: string(data[c.Start:c.End]), Space: string(c.Space), Local: string(c.Local), Uses: c.Uses,
		})
	}
	return s
}

// checkOutcome checks the properties every result of Parse must have.
func checkOutcome(t testing.TB, data []byte, doc *Doc, err error) {
	t.Helper()
	if err != nil {
		var se *SyntaxError
		switch {
		case errors.As(err, &se):
			require.GreaterOrEqual(t, se.Offset, 0, "offset of %v", err)
			require.LessOrEqual(t, se.Offset, len(data), "offset of %v", err)
		case errors.Is(err, ErrLimit):
		default:
			t.Fatalf("error %v (%T) is neither a *SyntaxError nor an ErrLimit", err, err)
		}
		return
	}
	require.NotEmpty(t, doc.Local, "root name")
	var rootDefault []byte
	for _, d := range doc.Decls {
		if len(d.Prefix) == 0 {
			rootDefault = d.URI
		}
	}
	prev := 0
	for i, c := range doc.Children {
		require.True(t, prev <= c.Start && c.Start < c.End && c.End <= len(data),
			"child %d range [%d:%d] after %d in %d bytes", i, c.Start, c.End, prev, len(data))
		require.Equal(t, byte('<'), data[c.Start], "child %d start", i)
		require.Equal(t, byte('>'), data[c.End-1], "child %d end", i)
		require.True(t, c.Start+1 < c.NameEnd && c.NameEnd < c.End, "child %d name end %d", i, c.NameEnd)
		require.True(t, bytes.HasSuffix(data[c.Start:c.NameEnd], c.Local), "child %d name %q", i, data[c.Start:c.NameEnd])
		require.NotEmpty(t, c.Local, "child %d name", i)
		if c.DefaultNS {
			require.Equal(t, string(rootDefault), string(c.Space), "child %d in the root's default namespace", i)
		}
		prev = c.End
	}
}

// passThrough is an encoding/xml CharsetReader for input that is already UTF-8.
func passThrough(_ string, r io.Reader) (io.Reader, error) { return r, nil }

// stdElements parses data with encoding/xml in strict mode and returns the
// names of the root and of its children.
func stdElements(data []byte) (root xml.Name, children []xml.Name, err error) {
	dec := xml.NewDecoder(bytes.NewReader(data))
	dec.Strict = true
	dec.CharsetReader = passThrough
	depth := 0
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return root, children, nil
		}
		if err != nil {
			return root, children, err
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			depth++
			switch depth {
			case 1:
				root = tok.Name
			case 2:
				children = append(children, tok.Name)
			}
		case xml.EndElement:
			depth--
		}
	}
}

// isNameTableGap reports whether err is encoding/xml rejecting a name that
// has non-ASCII characters: encoding/xml checks names against the tables of
// XML 1.0 fourth edition, narrower than the fifth edition's ones.
func isNameTableGap(err error) bool {
	var se *xml.SyntaxError
	if !errors.As(err, &se) || !strings.HasPrefix(se.Msg, "invalid XML name: ") {
		return false
	}
	name := strings.TrimPrefix(se.Msg, "invalid XML name: ")
	return utf8.ValidString(name) && strings.IndexFunc(name, func(r rune) bool { return r >= utf8.RuneSelf }) >= 0
}

// checkDifferential checks a document that Parse accepted into doc against
// encoding/xml, and checks that each child parses on its own once wrapped in
// a root carrying the declarations it uses.
func checkDifferential(t testing.TB, data []byte, doc *Doc) {
	t.Helper()
	root, children, err := stdElements(data)
	if isNameTableGap(err) {
		return
	}
	require.NoError(t, err, "encoding/xml rejects a document xmlscan accepts: %q", data)
	require.Equal(t, string(doc.Local), root.Local)
	require.Equal(t, normalizeSpace(string(doc.Space)), normalizeSpace(root.Space))
	require.Len(t, children, len(doc.Children))
	for i, c := range doc.Children {
		require.Equal(t, string(c.Local), children[i].Local, "child %d", i)
		require.Equal(t, normalizeSpace(string(c.Space)), normalizeSpace(children[i].Space), "child %d", i)
		checkChildAlone(t, data, doc, i)
	}
}

// checkChildAlone wraps child i of doc in a root declaring the namespaces the
// child uses and checks that both Parse and encoding/xml accept the result
// and agree with the original about the child.
func checkChildAlone(t testing.TB, data []byte, doc *Doc, i int) {
	t.Helper()
	c := doc.Children[i]
	var b strings.Builder
	var want []string // prefixes whose declarations the child uses
	b.WriteString("<wrap")
	for j, d := range doc.Decls {
		used := j < 64 && c.Uses&(1<<j) != 0
		if len(d.Prefix) == 0 || used || j >= 64 {
			fmt.Fprintf(&b, " xmlns%s='%s'", prefixSuffix(d.Prefix), escapeAttr(d.URI))
		}
		if used {
			want = append(want, string(d.Prefix))
		}
	}
	b.WriteString(">")
	b.Write(data[c.Start:c.End])
	b.WriteString("</wrap>")
	wrapped := []byte(b.String())

	var alone Doc
	require.NoError(t, Parse(wrapped, Limits{}, &alone), "child %d alone: %q", i, wrapped)
	require.Len(t, alone.Children, 1)
	ac := alone.Children[0]
	require.Equal(t, string(c.Local), string(ac.Local))
	require.Equal(t, string(c.Space), string(ac.Space))
	require.Equal(t, string(data[c.Start:c.End]), string(wrapped[ac.Start:ac.End]))
	var got []string
	for j, d := range alone.Decls {
		if j < 64 && ac.Uses&(1<<j) != 0 {
			got = append(got, string(d.Prefix))
		}
	}
	require.Equal(t, want, got, "prefixes child %d uses", i)

	_, _, err := stdElements(wrapped)
	if !isNameTableGap(err) {
		require.NoError(t, err, "encoding/xml on child %d alone: %q", i, wrapped)
	}
}

// normalizeSpace replaces TAB, LF and CR in a namespace URI with spaces.
// encoding/xml does not normalize attribute values (XML 1.0 section 3.3.3),
// so a URI written with literal white space differs between the two parsers;
// replacing the characters a reference may also produce on both sides makes
// the results comparable.
func normalizeSpace(uri string) string {
	return strings.NewReplacer("\t", " ", "\n", " ", "\r", " ").Replace(uri)
}

// prefixSuffix returns ":prefix", or "" for the default namespace.
func prefixSuffix(p []byte) string {
	if len(p) == 0 {
		return ""
	}
	return ":" + string(p)
}

// escapeAttr escapes v for a single-quoted attribute value, keeping white
// space from normalization.
func escapeAttr(v []byte) string {
	var b strings.Builder
	for _, r := range string(v) {
		switch r {
		case '&':
			b.WriteString("&amp;")
		case '<':
			b.WriteString("&lt;")
		case '\'':
			b.WriteString("&apos;")
		case '\t', '\n', '\r':
			fmt.Fprintf(&b, "&#%d;", r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}
