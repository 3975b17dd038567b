package xmlscan

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// requireSyntaxError checks that err is a *SyntaxError and returns it.
func requireSyntaxError(t testing.TB, err error) *SyntaxError {
	t.Helper()
	require.Error(t, err)
	var se *SyntaxError
	require.True(t, errors.As(err, &se), "want a *SyntaxError, got %v (%T)", err, err)
	require.False(t, errors.Is(err, ErrLimit))
	return se
}

const billionLaughs = `<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<body xmlns='http://jabber.org/protocol/httpbind'>&lol3;</body>`

// bodyRules are the limits package bosh parses a <body/> with: no text
// directly inside the root (XEP-0124 §6).
var bodyRules = Limits{NoRootText: true}

// rejectCases are documents Parse must refuse with a *SyntaxError under
// bodyRules.
var rejectCases = []struct {
	name string
	doc  string
}{
	// Document structure.
	{"empty input", ``},
	{"only white space", " \n\t"},
	{"only a BOM", "\xEF\xBB\xBF"},
	{"text before the root", `x<body/>`},
	{"text after the root", `<body/>x`},
	{"second root element", `<body/><body/>`},
	{"end tag before the root", `</body>`},
	{"two BOMs", "\xEF\xBB\xBF\xEF\xBB\xBF<body/>"},
	{"CDATA section at top level", `<![CDATA[x]]><body/>`},
	{"lone less-than sign", `<`},

	// Forbidden markup.
	{"billion laughs DOCTYPE", billionLaughs},
	{"external entity DOCTYPE", `<?xml version="1.0"?><!DOCTYPE body [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><body>&xxe;</body>`},
	{"DOCTYPE without subset", `<!DOCTYPE body><body/>`},
	{"ENTITY declaration in content", `<body><x><!ENTITY a "b"></x></body>`},
	{"ELEMENT declaration at top level", `<!ELEMENT body ANY><body/>`},
	{"comment inside a child", `<body><x><!-- c --></x></body>`},
	{"comment directly inside the root", `<body><!-- c --></body>`},
	{"comment before the root", `<!-- c --><body/>`},
	{"comment after the root", `<body/><!-- c -->`},
	{"processing instruction inside a child", `<body><x><?pi data?></x></body>`},
	{"processing instruction before the root", `<?pi data?><body/>`},
	{"processing instruction after the root", `<body/><?pi?>`},
	{"xml-stylesheet processing instruction", `<?xml-stylesheet href='a'?><body/>`},
	{"XML declaration after white space", ` <?xml version='1.0'?><body/>`},
	{"XML declaration after the root", `<body/><?xml version='1.0'?>`},
	{"XML declaration inside the root", `<body><?xml version='1.0'?></body>`},
	{"XML declaration twice", `<?xml version='1.0'?><?xml version='1.0'?><body/>`},

	// XML declaration.
	{"XML declaration version 1.1", `<?xml version='1.1'?><body/>`},
	{"XML declaration without version", `<?xml encoding='UTF-8'?><body/>`},
	{"XML declaration with version last", `<?xml encoding='UTF-8' version='1.0'?><body/>`},
	{"XML declaration with standalone before encoding", `<?xml version='1.0' standalone='yes' encoding='UTF-8'?><body/>`},
	{"XML declaration with a bad standalone value", `<?xml version='1.0' standalone='maybe'?><body/>`},
	{"XML declaration with a bad encoding name", `<?xml version='1.0' encoding='8bit'?><body/>`},
	{"XML declaration with an unquoted version", `<?xml version=1.0?><body/>`},
	{"XML declaration with mismatched quotes", `<?xml version='1.0"?><body/>`},
	{"XML declaration with an unknown pseudo-attribute", `<?xml version='1.0' foo='bar'?><body/>`},
	{"XML declaration with a repeated version", `<?xml version='1.0' version='1.0'?><body/>`},
	{"XML declaration without white space between pseudo-attributes", `<?xml version='1.0'encoding='UTF-8'?><body/>`},
	{"XML declaration in upper case", `<?XML version='1.0'?><body/>`},
	{"unterminated XML declaration", `<?xml version='1.0'`},

	// References.
	{"undefined entity in a child", `<body><x>&a;</x></body>`},
	{"undefined entity in an attribute", `<body a='&xxe;'/>`},
	{"reference directly inside the root", `<body>&amp;</body>`},
	{"character reference directly inside the root", `<body>&#32;</body>`},
	{"reference without a semicolon", `<body><x>&amp </x></body>`},
	{"bare ampersand", `<body><x>a & b</x></body>`},
	{"bare ampersand in an attribute", `<body a='a & b'/>`},
	{"character reference to NUL", `<body><x>&#0;</x></body>`},
	{"character reference to a control character", `<body a='&#x1;'/>`},
	{"character reference to a surrogate", `<body><x>&#xD800;</x></body>`},
	{"character reference to U+FFFE", `<body><x>&#xFFFE;</x></body>`},
	{"character reference past U+10FFFF", `<body><x>&#x110000;</x></body>`},
	{"character reference with a huge number", `<body><x>&#99999999999999999999999999;</x></body>`},
	{"empty decimal character reference", `<body><x>&#;</x></body>`},
	{"empty hexadecimal character reference", `<body><x>&#x;</x></body>`},
	{"character reference with an upper-case X", `<body><x>&#X41;</x></body>`},
	{"decimal character reference with a hex digit", `<body><x>&#12a;</x></body>`},

	// Characters.
	{"]]> in character data", `<body><x>a]]>b</x></body>`},
	{"invalid UTF-8 in text", "<body><x>a\xff</x></body>"},
	{"truncated UTF-8 sequence in text", "<body><x>\xe2\x82</x></body>"},
	{"overlong UTF-8 encoding in text", "<body><x>\xc0\xbc</x></body>"},
	{"UTF-8 encoded surrogate in text", "<body><x>\xed\xa0\x80</x></body>"},
	{"invalid UTF-8 in an attribute value", "<body a='\xff'/>"},
	{"invalid UTF-8 in an element name", "<body><x\xff/></body>"},
	{"invalid UTF-8 at the start of a name", "<\xff/>"},
	{"invalid UTF-8 in an attribute name", "<body a\xff='1'/>"},
	{"invalid UTF-8 in CDATA", "<body><x><![CDATA[\xff]]></x></body>"},
	{"control character in text", "<body><x>\x01</x></body>"},
	{"NUL in an attribute value", "<body a='\x00'/>"},
	{"control character in CDATA", "<body><x><![CDATA[\x1f]]></x></body>"},
	{"U+FFFE in text", "<body><x>\uFFFE</x></body>"},
	{"U+FFFF in an attribute value", "<body a='\uFFFF'/>"},

	// Attributes.
	{"less-than sign in an attribute value", `<body a='<'/>`},
	{"duplicate attribute", `<body a='1' a='2'/>`},
	{"duplicate prefixed attribute", `<body xmlns:p='urn:p' p:a='1' p:a='2'/>`},
	{"duplicate expanded name through two prefixes", `<body xmlns:p='urn:x' xmlns:q='urn:x' p:a='1' q:a='2'/>`},
	{"duplicate namespace declaration", `<body xmlns:p='urn:1' xmlns:p='urn:2'/>`},
	{"duplicate default namespace declaration", `<body xmlns='urn:1' xmlns='urn:2'/>`},
	{"duplicate attribute in a child", `<body><x a='1' a='1'/></body>`},
	{"unquoted attribute", `<body a=1/>`},
	{"attribute without a value", `<body a/>`},
	{"attribute without equals sign", `<body a '1'/>`},
	{"attributes without white space between them", `<body a='1'b='2'/>`},
	{"unterminated attribute value", `<body a='1/>`},
	{"slash not followed by greater-than sign", `<body/ >`},

	// Tags.
	{"mismatched end tag", `<body><x></y></body>`},
	{"end tag for a longer name", `<body><a></ab></body>`},
	{"end tag for a shorter name", `<body><ab></a></body>`},
	{"missing end tag", `<body><x></body>`},
	{"missing root end tag", `<body>`},
	{"truncated end tag", `<body></bo`},
	{"end tag with an attribute", `<body></body a='1'>`},
	{"end tag with a different prefix", `<p:body xmlns:p='urn:p' xmlns:q='urn:p'></q:body>`},
	{"element with white space before its name", `< body/>`},

	// Names.
	{"name starting with a digit", `<body><1x/></body>`},
	{"name starting with a hyphen", `<body><-x/></body>`},
	{"name starting with a period", `<.body/>`},
	{"name with two colons", `<body xmlns:a='urn:a'><a:b:c/></body>`},
	{"name with an empty prefix", `<:body/>`},
	{"name with an empty local part", `<body xmlns:a='urn:a'><a:/></body>`},
	{"local part starting with a digit", `<body xmlns:a='urn:a'><a:1/></body>`},
	{"attribute name with two colons", `<body xmlns:a='urn:a' a:b:c='1'/>`},
	{"attribute name with an empty prefix", `<body :a='1'/>`},
	{"name with a character outside NameChar", "<body><x\u00d7y/></body>"},
	{"name starting with a combining character", "<body><\u0300/></body>"},
	{"name with a non-breaking space", "<body\u00a0/>"},

	// Namespaces.
	{"undeclared element prefix", `<body><p:x/></body>`},
	{"undeclared attribute prefix", `<body p:a='1'/>`},
	{"prefix used outside its scope", `<body><x xmlns:p='urn:p'/><p:y/></body>`},
	{"undeclaring a prefix", `<body xmlns:p='urn:p'><x xmlns:p=''/></body>`},
	{"declaring the xmlns prefix", `<body xmlns:xmlns='urn:x'/>`},
	{"declaring the xmlns prefix as its own namespace", `<body xmlns:xmlns='http://www.w3.org/2000/xmlns/'/>`},
	{"binding the xml prefix to another namespace", `<body xmlns:xml='urn:x'/>`},
	{"binding another prefix to the XML namespace", `<body xmlns:x='http://www.w3.org/XML/1998/namespace'/>`},
	{"XML namespace as the default namespace", `<body xmlns='http://www.w3.org/XML/1998/namespace'/>`},
	{"binding a prefix to the xmlns namespace", `<body xmlns:x='http://www.w3.org/2000/xmlns/'/>`},
	{"xmlns namespace as the default namespace", `<body xmlns='http://www.w3.org/2000/xmlns/'/>`},
	{"xmlns namespace through a character reference", `<body xmlns:x='http://www.w3.org/2000/xmlns&#x2F;'/>`},
	{"element with the xmlns prefix", `<xmlns:body/>`},

	// Content directly inside the root.
	{"text directly inside the root", `<body>hello</body>`},
	{"text after a child directly inside the root", `<body><x/>hello</body>`},
	{"CDATA with text directly inside the root", `<body><![CDATA[hello]]></body>`},
	{"unterminated CDATA section", `<body><x><![CDATA[abc</x></body>`},
	{"unterminated comment", `<body><!-- abc`},
	{"truncated CDATA opener", `<body><x><![CDA`},
}

func TestParseRejects(t *testing.T) {
	for _, tt := range rejectCases {
		t.Run(tt.name, func(t *testing.T) {
			data := []byte(tt.doc)
			var doc Doc
			err := Parse(data, bodyRules, &doc)
			requireSyntaxError(t, err)
			checkOutcome(t, data, &doc, err)
		})
	}
}

// nest returns depth nested elements, the root being <r>.
func nest(depth int) string {
	return "<r>" + strings.Repeat("<a>", depth-1) + strings.Repeat("</a>", depth-1) + "</r>"
}

// attrs returns an empty root element with n attributes.
func attrs(n int) string {
	var b strings.Builder
	b.WriteString("<r")
	for i := range n {
		b.WriteString(" a")
		b.WriteString(strings.Repeat("x", i))
		b.WriteString("='1'")
	}
	b.WriteString("/>")
	return b.String()
}

func TestLimits(t *testing.T) {
	tests := []struct {
		name      string
		doc       string
		lim       Limits
		wantLimit bool
	}{
		{"default depth at the limit", nest(32), Limits{}, false},
		{"default depth one past the limit", nest(33), Limits{}, true},
		{"custom depth at the limit", nest(3), Limits{MaxDepth: 3}, false},
		{"custom depth one past the limit", nest(4), Limits{MaxDepth: 3}, true},
		{"depth one allows only the root", `<r><a/></r>`, Limits{MaxDepth: 1}, true},
		{"negative depth means the default", nest(32), Limits{MaxDepth: -1}, false},
		{"deep nesting is refused before the rest is scanned", strings.Repeat("<a>", 40) + "\xff", Limits{}, true},
		{"default attributes at the limit", attrs(64), Limits{}, false},
		{"default attributes one past the limit", attrs(65), Limits{}, true},
		{"custom attributes at the limit", attrs(2), Limits{MaxAttrs: 2}, false},
		{"custom attributes one past the limit", attrs(3), Limits{MaxAttrs: 2}, true},
		{"namespace declarations count as attributes", `<r xmlns='urn:a' xmlns:b='urn:b' c='1'/>`, Limits{MaxAttrs: 2}, true},
		{"attribute limit applies to children", `<r><x a='1' b='2' c='3'/></r>`, Limits{MaxAttrs: 2}, true},
		{"too many attributes are refused before the tag is scanned", "<r a='1' b='2' c='3' d='\xff", Limits{MaxAttrs: 2}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Parse([]byte(tt.doc), tt.lim, new(Doc))
			if !tt.wantLimit {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, ErrLimit)
			var se *SyntaxError
			assert.False(t, errors.As(err, &se), "a limit error is not a syntax error")
		})
	}
}

func TestDeepNestingDoesNotRecurse(t *testing.T) {
	depth := 100000
	doc := nest(depth)
	require.NoError(t, Parse([]byte(doc), Limits{MaxDepth: depth}, new(Doc)))
	require.ErrorIs(t, Parse([]byte(doc), Limits{MaxDepth: depth - 1}, new(Doc)), ErrLimit)
}
