package xmlscan

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	nsBind   = "http://jabber.org/protocol/httpbind"
	nsXML    = "http://www.w3.org/XML/1998/namespace"
	nsStream = "http://etherx.jabber.org/streams"
)

func TestParseAccepts(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		want summary
	}{
		{
			name: "typical request with a message",
			doc:  exRequest,
			want: summary{
				Space: nsBind, Local: "body",
				Attrs: []string{"{}rid=1573741821", "{}sid=Z3Ht6bA1Ks9RmcP0", "{}ack=1573741820"},
				Decls: []string{"=" + nsBind},
				Children: []childSummary{{
					XML:   `<message to='juliet@example.com' xmlns='jabber:client'><body>Wherefore art thou, Romeo?</body></message>`,
					Space: "jabber:client", Local: "message",
				}},
			},
		},
		{
			name: "session creation request with xml:lang",
			doc:  exCreate,
			want: summary{
				Space: nsBind, Local: "body",
				Attrs: []string{
					"{}content=text/xml; charset=utf-8", "{}from=user@example.com", "{}hold=1", "{}rid=1573741820",
					"{}to=example.com", "{}route=xmpp:example.com:9999", "{}ver=1.6", "{}wait=60", "{}ack=1",
					"{" + nsXML + "}lang=en",
				},
				Decls: []string{"=" + nsBind},
			},
		},
		{
			name: "restart request with a prefixed attribute",
			doc:  exRestart,
			want: summary{
				Space: nsBind, Local: "body",
				Attrs: []string{
					"{}rid=1573741824", "{}sid=SomeSID", "{}to=example.com", "{" + nsXML + "}lang=en",
					"{urn:xmpp:xbosh}restart=true",
				},
				Decls: []string{"=" + nsBind, "xmpp=urn:xmpp:xbosh"},
			},
		},
		{
			name: "features child uses the root's stream declaration",
			doc:  `<body xmlns='` + nsBind + `' xmlns:stream='` + nsStream + `'><stream:features/></body>`,
			want: summary{
				Space: nsBind, Local: "body",
				Decls: []string{"=" + nsBind, "stream=" + nsStream},
				Children: []childSummary{{
					XML: `<stream:features/>`, Space: nsStream, Local: "features", Uses: 1 << 1,
				}},
			},
		},
		{
			name: "child that redeclares the prefix itself gets no bit",
			doc:  `<body xmlns='` + nsBind + `' xmlns:stream='` + nsStream + `'><stream:features xmlns:stream='urn:other'><stream:x/></stream:features></body>`,
			want: summary{
				Space: nsBind, Local: "body",
				Decls: []string{"=" + nsBind, "stream=" + nsStream},
				Children: []childSummary{{
					XML:   `<stream:features xmlns:stream='urn:other'><stream:x/></stream:features>`,
					Space: "urn:other", Local: "features",
				}},
			},
		},
		{
			name: "child using xmpp prefix in an attribute gets the bit",
			doc:  `<body xmlns='` + nsBind + `' xmlns:stream='` + nsStream + `' xmlns:xmpp='urn:xmpp:xbosh'><iq xmlns='jabber:client'><x xmpp:version='1.0'/></iq><iq xmlns='jabber:client'/></body>`,
			want: summary{
				Space: nsBind, Local: "body",
				Decls: []string{"=" + nsBind, "stream=" + nsStream, "xmpp=urn:xmpp:xbosh"},
				Children: []childSummary{
					{XML: `<iq xmlns='jabber:client'><x xmpp:version='1.0'/></iq>`, Space: "jabber:client", Local: "iq", Uses: 1 << 2},
					{XML: `<iq xmlns='jabber:client'/>`, Space: "jabber:client", Local: "iq"},
				},
			},
		},
		{
			name: "grandchild redeclaration hides the root binding only inside it",
			doc:  `<r xmlns:p='urn:root'><c><p:x xmlns:p='urn:inner'/><p:y/></c><c><p:z xmlns:p='urn:inner'/></c></r>`,
			want: summary{
				Local: "r",
				Decls: []string{"p=urn:root"},
				Children: []childSummary{
					{XML: `<c><p:x xmlns:p='urn:inner'/><p:y/></c>`, Local: "c", Uses: 1},
					{XML: `<c><p:z xmlns:p='urn:inner'/></c>`, Local: "c"},
				},
			},
		},
		{
			name: "prefixed root and child",
			doc:  `<b:body xmlns:b='urn:b'><b:x/></b:body>`,
			want: summary{
				Space: "urn:b", Local: "body",
				Decls:    []string{"b=urn:b"},
				Children: []childSummary{{XML: `<b:x/>`, Space: "urn:b", Local: "x", Uses: 1}},
			},
		},
		{
			name: "xml prefix is predefined and sets no bit",
			doc:  `<r xmlns:xml='` + nsXML + `'><c xml:lang='en'/></r>`,
			want: summary{
				Local:    "r",
				Decls:    []string{"xml=" + nsXML},
				Children: []childSummary{{XML: `<c xml:lang='en'/>`, Local: "c"}},
			},
		},
		{
			name: "attribute prefix declared after its use in the same tag",
			doc:  `<r p:a='1' xmlns:p='urn:p'/>`,
			want: summary{Local: "r", Attrs: []string{"{urn:p}a=1"}, Decls: []string{"p=urn:p"}},
		},
		{
			name: "same local name in two namespaces",
			doc:  `<r xmlns:a='urn:1' xmlns:b='urn:2' a:z='1' b:z='2' z='3'/>`,
			want: summary{
				Local: "r",
				Attrs: []string{"{urn:1}z=1", "{urn:2}z=2", "{}z=3"},
				Decls: []string{"a=urn:1", "b=urn:2"},
			},
		},
		{
			name: "default namespace undeclared in a child",
			doc:  `<body xmlns='` + nsBind + `'><x xmlns=''><y/></x></body>`,
			want: summary{
				Space: nsBind, Local: "body",
				Decls:    []string{"=" + nsBind},
				Children: []childSummary{{XML: `<x xmlns=''><y/></x>`, Local: "x"}},
			},
		},
		{
			name: "child inherits the root's default namespace",
			doc:  `<body xmlns='` + nsBind + `'><x/></body>`,
			want: summary{
				Space: nsBind, Local: "body",
				Decls:    []string{"=" + nsBind},
				Children: []childSummary{{XML: `<x/>`, Space: nsBind, Local: "x"}},
			},
		},
		{
			name: "empty root",
			doc:  `<body/>`,
			want: summary{Local: "body"},
		},
		{
			name: "xml declaration, BOM and surrounding white space",
			doc:  "\xEF\xBB\xBF<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\r\n <body a = \"1\" >\n\t<x/>\n</body >\n ",
			want: summary{
				Local: "body", Attrs: []string{"{}a=1"},
				Children: []childSummary{{XML: `<x/>`, Local: "x"}},
			},
		},
		{
			name: "xml declaration with only a version and an unusual encoding label",
			doc:  `<?xml version='1.0' encoding='ISO-8859-1'?><body/>`,
			want: summary{Local: "body"},
		},
		{
			name: "references and CDATA inside a child",
			doc:  `<body><m>a &lt;b&gt; &amp; &quot;c&quot; &apos;d&apos; &#65;&#x42;&#x10FFFF; ]] ] > <![CDATA[<not markup> & ]]]]><![CDATA[>]]></m></body>`,
			want: summary{
				Local: "body",
				Children: []childSummary{{
					XML:   `<m>a &lt;b&gt; &amp; &quot;c&quot; &apos;d&apos; &#65;&#x42;&#x10FFFF; ]] ] > <![CDATA[<not markup> & ]]]]><![CDATA[>]]></m>`,
					Local: "m",
				}},
			},
		},
		{
			name: "white space only CDATA directly inside the root",
			doc:  "<body> <![CDATA[ \n\t]]> <x/></body>",
			want: summary{Local: "body", Children: []childSummary{{XML: `<x/>`, Local: "x"}}},
		},
		{
			name: "references in root attribute values are replaced",
			doc:  `<body a='x&amp;y&lt;&#x20AC;&#233;' b="it's" c='say "hi"' d='&#9;&#10;&#13;' e='a > b ]]>'/>`,
			want: summary{
				Local: "body",
				Attrs: []string{"{}a=x&y<€é", "{}b=it's", `{}c=say "hi"`, "{}d=\t\n\r", "{}e=a > b ]]>"},
			},
		},
		{
			name: "white space in attribute values is normalized",
			doc:  "<body a='1\t2\n3\r\n4\r5'/>",
			want: summary{Local: "body", Attrs: []string{"{}a=1 2 3 4 5"}},
		},
		{
			name: "namespace URI with a reference is unescaped",
			doc:  `<body xmlns='urn:a&amp;b' xmlns:p='urn:&#x63;'><p:x/></body>`,
			want: summary{
				Space: "urn:a&b", Local: "body",
				Decls:    []string{"=urn:a&b", "p=urn:c"},
				Children: []childSummary{{XML: `<p:x/>`, Space: "urn:c", Local: "x", Uses: 1 << 1}},
			},
		},
		{
			name: "non-ASCII names from the full NameStartChar and NameChar ranges",
			doc:  "<body><\u00e9l\u00e8ve\u00b7\u0300\u203f/><\u4e2d\u6587/><\U00010000\U000EFFFF/><\u00c0:x xmlns:\u00c0='urn:a'/></body>",
			want: summary{
				Local: "body",
				Children: []childSummary{
					{XML: "<\u00e9l\u00e8ve\u00b7\u0300\u203f/>", Local: "\u00e9l\u00e8ve\u00b7\u0300\u203f"},
					{XML: "<\u4e2d\u6587/>", Local: "\u4e2d\u6587"},
					{XML: "<\U00010000\U000EFFFF/>", Local: "\U00010000\U000EFFFF"},
					{XML: "<\u00c0:x xmlns:\u00c0='urn:a'/>", Space: "urn:a", Local: "x"},
				},
			},
		},
		{
			name: "names with digits, dots, hyphens and underscores",
			doc:  `<_b.o-d_y9 a.b-c_1='v'><x-1.y/></_b.o-d_y9>`,
			want: summary{
				Local: "_b.o-d_y9", Attrs: []string{"{}a.b-c_1=v"},
				Children: []childSummary{{XML: `<x-1.y/>`, Local: "x-1.y"}},
			},
		},
		{
			name: "text with non-ASCII and allowed control characters in a child",
			doc:  "<body><m>\u00e9\u20ac\U0001F600\t\r\n\uFFFD\uE000</m></body>",
			want: summary{
				Local:    "body",
				Children: []childSummary{{XML: "<m>\u00e9\u20ac\U0001F600\t\r\n\uFFFD\uE000</m>", Local: "m"}},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := []byte(tt.doc)
			var doc Doc
			require.NoError(t, Parse(data, Limits{}, &doc))
			assert.Equal(t, tt.want, summarize(data, &doc))
			checkOutcome(t, data, &doc, nil)
			checkDifferential(t, data, &doc)
		})
	}
}

func TestParseAcceptsExamples(t *testing.T) {
	for _, ex := range examples {
		var doc Doc
		data := []byte(ex)
		require.NoError(t, Parse(data, Limits{}, &doc), ex)
		checkOutcome(t, data, &doc, nil)
		checkDifferential(t, data, &doc)
	}
}

func TestDocAttr(t *testing.T) {
	var doc Doc
	require.NoError(t, Parse([]byte(exCreateXMPP), Limits{}, &doc))

	v, ok := doc.Attr("", "rid")
	assert.True(t, ok)
	assert.Equal(t, "1573741820", string(v))

	v, ok = doc.Attr(nsXML, "lang")
	assert.True(t, ok)
	assert.Equal(t, "en", string(v))

	v, ok = doc.Attr("urn:xmpp:xbosh", "version")
	assert.True(t, ok)
	assert.Equal(t, "1.0", string(v))

	_, ok = doc.Attr("", "version")
	assert.False(t, ok, "a prefixed attribute is not found without its namespace")
	_, ok = doc.Attr("", "xmlns")
	assert.False(t, ok, "namespace declarations are not attributes")
	_, ok = doc.Attr("", "missing")
	assert.False(t, ok)
}

func TestValueAliasesInput(t *testing.T) {
	data := []byte(`<body rid='42' a='x&amp;y'/>`)
	var doc Doc
	require.NoError(t, Parse(data, Limits{}, &doc))
	rid, _ := doc.Attr("", "rid")
	assert.Same(t, &data[11], &rid[0], "a value without references aliases the input")
	a, _ := doc.Attr("", "a")
	assert.NotSame(t, &data[20], &a[0], "an unescaped value is a copy")
	assert.Equal(t, "x&y", string(a))
}

func TestDocReuse(t *testing.T) {
	var reused Doc
	for _, ex := range append(examples, exFeatures, exRequest, `<r/>`, exRestart) {
		data := []byte(ex)
		require.NoError(t, Parse(data, Limits{}, &reused))
		var fresh Doc
		require.NoError(t, Parse(data, Limits{}, &fresh))
		assert.Equal(t, summarize(data, &fresh), summarize(data, &reused), ex)
	}
}

func TestScopeEndsWithElement(t *testing.T) {
	var doc Doc
	err := Parse([]byte(`<r><a xmlns:p='urn:p'><p:x/></a><p:y/></r>`), Limits{}, &doc)
	requireSyntaxError(t, err)

	// A reused Doc forgets the bindings of the previous document.
	require.NoError(t, Parse([]byte(`<r xmlns:p='urn:p'><p:x/></r>`), Limits{}, &doc))
	requireSyntaxError(t, Parse([]byte(`<r><p:x/></r>`), Limits{}, &doc))
}

func TestManyAttributesAndPrefixes(t *testing.T) {
	// More attributes than smallAttrs use the hash set; many prefixes grow the prefix table.
	var b []byte
	b = append(b, "<r"...)
	for i := range 60 {
		b = append(b, " xmlns:p"...)
		b = append(b, byte('a'+i/26), byte('a'+i%26))
		b = append(b, "='urn:x'"...)
	}
	b = append(b, "><c pbh:a='1' pab:b='2'/></r>"...)
	var doc Doc
	require.NoError(t, Parse(b, Limits{}, &doc))
	require.Len(t, doc.Decls, 60)
	require.Len(t, doc.Children, 1)
	assert.Equal(t, uint64(1<<33|1<<1), doc.Children[0].Uses)
	checkDifferential(t, b, &doc)

	var many []byte
	many = append(many, "<r xmlns:a='urn:1' xmlns:b='urn:2'"...)
	for i := range 30 {
		many = append(many, ' ', 'x', byte('a'+i%26), byte('a'+i/26))
		many = append(many, "='v'"...)
	}
	dup := append(append([]byte(nil), many...), " a:k='1' b:k='2' a:k='3'/>"...)
	requireSyntaxError(t, Parse(dup, Limits{}, &doc))
	ok := append(append([]byte(nil), many...), " a:k='1' b:k='2' k='3'/>"...)
	require.NoError(t, Parse(ok, Limits{}, &doc))
	assert.Len(t, doc.Attrs, 33)
}

func TestManyRootDeclarations(t *testing.T) {
	// Declarations past the 64th have no Uses bit.
	var b []byte
	b = append(b, "<r"...)
	for i := range 70 {
		b = append(b, " xmlns:p"...)
		b = append(b, byte('a'+i/26), byte('a'+i%26))
		b = append(b, "='urn:x'"...)
	}
	b = append(b, "><pac:c/><pcr:c/></r>"...) // declarations 2 and 69
	var doc Doc
	require.NoError(t, Parse(b, Limits{MaxAttrs: 100}, &doc))
	require.Len(t, doc.Children, 2)
	assert.Equal(t, uint64(1<<2), doc.Children[0].Uses)
	assert.Zero(t, doc.Children[1].Uses)
}

func TestSyntaxErrorMessage(t *testing.T) {
	err := Parse([]byte(`<body>&a;</body>`), bodyRules, new(Doc))
	se := requireSyntaxError(t, err)
	assert.Equal(t, 6, se.Offset)
	assert.Equal(t, "xmlscan: character data directly inside the root element at offset 6", err.Error())

	err = Parse([]byte(`<body><x>&a;</x></body>`), bodyRules, new(Doc))
	se = requireSyntaxError(t, err)
	assert.Equal(t, 9, se.Offset)
	assert.Contains(t, err.Error(), "at offset 9")
}

func TestDuplicateDetectionMatchesNaiveCheck(t *testing.T) {
	// Prefixes a and b are bound to the same namespace, so a:x and b:x clash.
	uris := map[string]string{"a": "urn:1", "b": "urn:1", "c": "urn:2"}
	pool := []string{"x", "y", "z", "a:x", "b:x", "c:x", "a:y", "c:y", "b:z", "xmlns:d", "xmlns:e", "xmlns"}
	rng := rand.New(rand.NewPCG(1, 2))
	var doc Doc
	for range 2000 {
		n := rng.IntN(20)
		b := []byte("<r xmlns:a='urn:1' xmlns:b='urn:1' xmlns:c='urn:2'")
		seen := map[string]bool{}
		wantDup := false
		for range n {
			name := pool[rng.IntN(len(pool))]
			key := name
			if prefix, local, ok := strings.Cut(name, ":"); ok && prefix != "xmlns" {
				key = uris[prefix] + " " + local
			}
			wantDup = wantDup || seen[key]
			seen[key] = true
			b = append(b, " "+name+"='urn:v'"...)
		}
		b = append(b, "/>"...)
		err := Parse(b, Limits{}, &doc)
		if wantDup {
			requireSyntaxError(t, err)
		} else {
			require.NoError(t, err, "%s", b)
		}
	}
}

func TestRootText(t *testing.T) {
	tests := []struct {
		name     string
		doc      string
		rootText bool
	}{
		{"text, as in SASL's <auth/> (RFC 6120 §6.4.2)", `<auth>AGp1bGlldAByMG0zMG15cjBtMzA=</auth>`, true},
		{"text after a child", `<body><x/>hello</body>`, true},
		{"reference", `<body>&amp;</body>`, true},
		{"character reference", `<body>&#65;</body>`, true},
		{"CDATA section with text", `<body><![CDATA[hello]]></body>`, true},
		{"white space only", "<body> <x/>\n\t<![CDATA[ ]]></body>", false},
		{"text below the root only", `<body><x>hello</x></body>`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := []byte(tt.doc)
			var doc Doc
			require.NoError(t, Parse(data, Limits{}, &doc))
			assert.Equal(t, tt.rootText, doc.RootText)
			checkDifferential(t, data, &doc)

			err := Parse(data, bodyRules, &doc)
			if tt.rootText {
				assert.ErrorContains(t, err, "character data directly inside the root element")
			} else {
				assert.NoError(t, err)
				assert.False(t, doc.RootText)
			}
		})
	}
}

func TestRootTextUndefinedEntity(t *testing.T) {
	err := Parse([]byte(`<body>&a;</body>`), Limits{}, new(Doc))
	se := requireSyntaxError(t, err)
	assert.Equal(t, 6, se.Offset)
	assert.Contains(t, se.Msg, "reference to an entity other than")
}

func TestOffsets(t *testing.T) {
	data := []byte("<?xml version='1.0'?>\n<p:iq xmlns:p='jabber:client' type = \"get\"  xmlns='urn:x' id='a&amp;b'/>")
	var doc Doc
	require.NoError(t, Parse(data, Limits{}, &doc))
	assert.Equal(t, "<", string(data[doc.Start]))
	assert.Equal(t, "<p:iq", string(data[doc.Start:doc.NameEnd]))
	require.Len(t, doc.Attrs, 2)
	for _, a := range doc.Attrs {
		assert.Contains(t, []string{"get", "a&amp;b"}, string(data[a.ValueStart:a.ValueEnd]), "%s", a.Local)
	}
	require.Len(t, doc.Decls, 2)
	assert.Equal(t, "jabber:client", string(data[doc.Decls[0].ValueStart:doc.Decls[0].ValueEnd]))
	assert.Equal(t, "urn:x", string(data[doc.Decls[1].ValueStart:doc.Decls[1].ValueEnd]))
}

func TestChildDefaultNS(t *testing.T) {
	data := []byte(`<message xmlns='jabber:client' xmlns:p='urn:p'><body/><x xmlns='jabber:client'/><p:y/><z xmlns=''/></message>`)
	var doc Doc
	require.NoError(t, Parse(data, Limits{}, &doc))
	require.Len(t, doc.Children, 4)
	var got []bool
	for _, c := range doc.Children {
		got = append(got, c.DefaultNS)
	}
	assert.Equal(t, []bool{true, false, false, false}, got, "only <body/> inherits the root's default namespace")
	checkOutcome(t, data, &doc, nil)
}
