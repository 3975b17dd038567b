package xmlscan

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"
)

// fuzzSeeds are malformed or unusual documents to start the fuzzer from,
// besides the examples.
var fuzzSeeds = []string{
	`<body xmlns='http://jabber.org/protocol/httpbind' xmlns:stream='http://etherx.jabber.org/streams'><stream:features/></body>`,
	"\xEF\xBB\xBF<?xml version='1.0' encoding='UTF-8' standalone='no'?>\n<body a='&#x20AC;&amp;\t'> <x xmlns:p='urn:p' p:a='1'><![CDATA[<]]>&lt;</x> </body>",
	`<r xmlns:p='urn:p'><c><p:x xmlns:p='urn:q'/><p:y p:z='&quot;'/></c><c xmlns=''/></r>`,
	billionLaughs,
	`<!DOCTYPE body [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><body>&xxe;</body>`,
	`<body><x>&a;</x></body>`,
	`<body><x a='1' a='2'/></body>`,
	`<body xmlns:p='urn:x' xmlns:q='urn:x' p:a='1' q:a='2'/>`,
	`<body><x></y></body>`,
	`<body><!-- c --></body>`,
	`<body><?pi?></body>`,
	`<body>text</body>`,
	"<body><x>\xff</x></body>",
	"<body a='\xed\xa0\x80'/>",
	`<body xmlns:p=''/>`,
	`<a:b:c/>`,
	`<body><x>]]></x></body>`,
	`<body><x>&#x110000;&#0;</x></body>`,
	"<r>" + "<a>" + "<a>" + "<a>" + "</a></a></a></r>",
}

func FuzzParse(f *testing.F) {
	for _, s := range examples {
		f.Add([]byte(s))
	}
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkProperties(t, data)
		checkProperties(t, synthesize(data))
	})
}

// checkProperties checks the properties of Parse on data, on parts of it,
// under tight limits and without the rule of bodyRules.
func checkProperties(t *testing.T, data []byte) {
	var doc Doc
	err := Parse(data, bodyRules, &doc)
	checkOutcome(t, data, &doc, err)
	var want summary
	if err == nil {
		checkDifferential(t, data, &doc)
		want = summarize(data, &doc)

		// Cutting off the root's final '>' must make the document fail.
		last := bytes.LastIndexByte(data, '>')
		require.Error(t, Parse(data[:last], bodyRules, &doc), "truncated before its final '>'")

		// A reused Doc gives the same result as a fresh one.
		require.NoError(t, Parse(data, bodyRules, &doc))
		require.Equal(t, want, summarize(data, &doc))
	}

	// Split the input in two at a point derived from it; each part must be
	// handled cleanly, with the Doc reused.
	if len(data) > 0 {
		k := int(data[len(data)/2]) * len(data) / 256
		for _, part := range [][]byte{data[:k], data[k:]} {
			err := Parse(part, bodyRules, &doc)
			checkOutcome(t, part, &doc, err)
			if err == nil {
				checkDifferential(t, part, &doc)
			}
		}
	}

	// Tight limits only ever turn success into a limit error.
	err2 := Parse(data, Limits{MaxDepth: 2, MaxAttrs: 2, NoRootText: true}, &doc)
	checkOutcome(t, data, &doc, err2)
	if err != nil {
		require.Error(t, err2, "tighter limits accepted a rejected document")
	}

	checkRootText(t, data, err, want)
}

// checkRootText parses data without the rule of bodyRules, which gave err
// and, on success, want: only text directly inside the root tells the two
// results apart.
func checkRootText(t *testing.T, data []byte, err error, want summary) {
	var doc Doc
	plain := Parse(data, Limits{}, &doc)
	checkOutcome(t, data, &doc, plain)
	switch {
	case err == nil:
		require.NoError(t, plain, "refused without the rule, accepted with it")
		require.False(t, doc.RootText)
		require.Equal(t, want, summarize(data, &doc))
	case plain == nil:
		require.True(t, doc.RootText, "refused with the rule but no text in the root: %v", err)
		checkDifferential(t, data, &doc)
	}
}

// Pieces synthesize puts together; most are well-formed, some are not.
var (
	genElems  = []string{"a", "b", "a", "p:a", "q:b", "p:b", "xml:x", "\u00e9t\u00e9", "\U00010000", "x-1.y", "1x", "xmlns:a"}
	genAttrs  = []string{"a", "b", "p:a", "q:a", "q:b", "xml:lang", "xmlns", "xmlns", "xmlns:p", "xmlns:q", "xmlns:p", "xmlns:xml", "\u00e9"}
	genValues = []string{
		"v", "urn:p", "urn:q", "urn:p", "urn:q", "", "urn:p&amp;q", "a&#x9;b", "a\tb\r\nc", "&lt;&gt;&quot;&apos;",
		"http://www.w3.org/XML/1998/namespace", "&#0;", "<", "\xff", "http://www.w3.org/2000/xmlns/",
	}
	genTexts = []string{
		"t", " ", "\n", "&lt;", "&#65;", "&#x10FFFF;", "<![CDATA[ ]]>", "<![CDATA[<x>]]>", "]]", "\u20ac",
		"]]>", "\xff", "\uFFFE", "<!--c-->", "<?p?>", "&e;",
	}
)

// synthesize builds a document from data, reading its bytes as choices
// among pieces, so that the fuzzer also explores documents that are mostly
// well-formed and use namespaces.
func synthesize(data []byte) []byte {
	var out []byte
	var open []string
	pick := func(list []string) string {
		if len(data) == 0 {
			return list[0]
		}
		c := data[0]
		data = data[1:]
		return list[int(c)%len(list)]
	}
	for len(data) > 0 {
		c := data[0]
		data = data[1:]
		switch {
		case len(open) == 0 && out != nil:
			return out
		case len(open) == 0 || c%4 < 2:
			name := pick(genElems)
			out = append(out, '<')
			out = append(out, name...)
			for range int(c/4) % 4 {
				out = append(out, ' ')
				out = append(out, pick(genAttrs)...)
				out = append(out, "='"...)
				out = append(out, pick(genValues)...)
				out = append(out, '\'')
			}
			if c%8 == 1 {
				out = append(out, "/>"...)
				if len(open) == 0 {
					return out
				}
				continue
			}
			out = append(out, '>')
			open = append(open, name)
		case c%4 == 2:
			out = append(out, pick(genTexts)...)
		default:
			out = append(out, "</"+open[len(open)-1]+">"...)
			open = open[:len(open)-1]
		}
	}
	for i := len(open) - 1; i >= 0; i-- {
		out = append(out, "</"+open[i]+">"...)
	}
	return out
}
