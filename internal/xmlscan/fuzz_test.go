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
		var doc Doc
		err := Parse(data, Limits{}, &doc)
		checkOutcome(t, data, &doc, err)
		if err == nil {
			checkDifferential(t, data, &doc)
			want := summarize(data, &doc)

			// Cutting off the root's final '>' must make the document fail.
			last := bytes.LastIndexByte(data, '>')
			require.Error(t, Parse(data[:last], Limits{}, &doc), "truncated before its final '>'")

			// A reused Doc gives the same result as a fresh one.
			require.NoError(t, Parse(data, Limits{}, &doc))
			require.Equal(t, want, summarize(data, &doc))
		}

		// Split the input in two at a point derived from it; each half must
		// be handled cleanly, with the Doc reused.
		if len(data) > 0 {
			k := int(data[len(data)/2]) * len(data) / 256
			for _, part := range [][]byte{data[:k], data[k:]} {
				err := Parse(part, Limits{}, &doc)
				checkOutcome(t, part, &doc, err)
				if err == nil {
					checkDifferential(t, part, &doc)
				}
			}
		}

		// Tight limits only ever turn success into a limit error.
		err2 := Parse(data, Limits{MaxDepth: 2, MaxAttrs: 2}, &doc)
		checkOutcome(t, data, &doc, err2)
		if err != nil {
			require.Error(t, err2, "tighter limits accepted a rejected document")
		}
	})
}
