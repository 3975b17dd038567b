package bosh

import (
	"bytes"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/httpbind/httpbind/internal/xmlscan"
	"github.com/httpbind/httpbind/session"
)

// Seeds: the request bodies of XEP-0124 and XEP-0206 examples, and hostile
// ones.
var bodySeeds = []string{
	`<body content='text/xml; charset=utf-8' from='user@example.com' hold='1' rid='1573741820' to='example.com' route='xmpp:example.com:9999' secure='true' ver='1.6' wait='60' ack='1' xml:lang='en' xmlns='http://jabber.org/protocol/httpbind'/>`,
	`<body rid='1573741821' sid='SomeSID' xmlns='http://jabber.org/protocol/httpbind'><message to='contact@example.com' xmlns='jabber:client'><body>Good morning!</body></message><message to='friend@example.com' xmlns='jabber:client'><body>Hey, what&apos;s up?</body></message></body>`,
	`<body rid='1573741824' sid='SomeSID' type='terminate' xmlns='http://jabber.org/protocol/httpbind'><presence type='unavailable' xmlns='jabber:client'/></body>`,
	`<body rid='1573741825' sid='SomeSID' to='example.com' xml:lang='en' xmpp:restart='true' xmlns='http://jabber.org/protocol/httpbind' xmlns:xmpp='urn:xmpp:xbosh'/>`,
	`<body rid='1573741822' sid='SomeSID' key='bfb06a6f113cd6fd3838ab9d300fdb4fe3da2f7d' newkey='5ed1f9b6' pause='60' ack='1573741820' xmlns='http://jabber.org/protocol/httpbind'/>`,
	`<body rid='1' sid='s' xmlns='http://jabber.org/protocol/httpbind' xmlns:stream='http://etherx.jabber.org/streams'><stream:features/></body>`,
	`<?xml version='1.0' encoding='ISO-8859-1'?><body rid='1' sid='s' xmlns='http://jabber.org/protocol/httpbind'/>`,
	`<!DOCTYPE body [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;">]><body rid='1' xmlns='http://jabber.org/protocol/httpbind'>&b;</body>`,
	`<body rid='1' xmlns='http://jabber.org/protocol/httpbind'><a><b><c><d/></c></b></a></body>`,
	`<body rid='abc' xmlns='http://jabber.org/protocol/httpbind'>text</body>`,
	"<body rid='1' xmlns='http://jabber.org/protocol/httpbind'><m>\xff\xfe</m></body>",
}

// FuzzDecodeBody: no panic; a failure always carries a condition; a
// success re-encodes into a body that decodes to the same payloads.
func FuzzDecodeBody(f *testing.F) {
	for _, s := range bodySeeds {
		f.Add([]byte(s))
	}
	lim := xmlscan.Limits{MaxDepth: 16, MaxAttrs: 32}
	f.Fuzz(func(t *testing.T, data []byte) {
		var doc xmlscan.Doc
		var b body
		checkDecode(t, data[:len(data)/2], lim, &doc, &b) // a cut request
		if !checkDecode(t, data, lim, &doc, &b) {
			return
		}
		payloads := make([][]byte, len(b.payloads))
		for i, p := range b.payloads {
			payloads[i] = bytes.Clone(p)
		}
		enc := appendBody(nil, &session.Reply{Payloads: payloads, Type: "terminate", Condition: "x'<&"})
		var doc2 xmlscan.Doc
		var b2 body
		require.NoError(t, decodeBody(enc, lim, &doc2, &b2), "re-encoded body does not decode: %q", enc)
		require.Len(t, b2.payloads, len(payloads), "decode→encode→decode changed the payload count")
		for i := range payloads {
			require.Equal(t, string(payloads[i]), string(b2.payloads[i]), "decode→encode→decode changed payload %d", i)
		}
	})
}

func checkDecode(t *testing.T, data []byte, lim xmlscan.Limits, doc *xmlscan.Doc, b *body) bool {
	err := decodeBody(data, lim, doc, b)
	if err != nil {
		c := ConditionOf(err)
		require.Contains(t, []Condition{BadRequest, PolicyViolation}, c, "error without a client condition: %v", err)
		return false
	}
	return true
}

// FuzzCharset: any bytes in any advertised charset become valid UTF-8 or a
// bad-request, never a panic.
func FuzzCharset(f *testing.F) {
	f.Add([]byte("<body rid='1' xmlns='http://jabber.org/protocol/httpbind'><m>caf\xe9</m></body>"), "text/xml; charset=ISO-8859-1")
	f.Add([]byte("<?xml version='1.0' encoding='ISO-2022-JP'?><body rid='1' xmlns='http://jabber.org/protocol/httpbind'><m>\x1b$B$3$s\x1b(B</m></body>"), "")
	f.Add([]byte("<body rid='1' xmlns='http://jabber.org/protocol/httpbind'><m>\x82\xa0</m></body>"), "text/plain; charset=Shift_JIS")
	f.Add([]byte("<?xml version='1.0' encoding='"), "charset=")
	f.Add([]byte("\xef\xbb\xbf<body/>"), "text/xml; charset=utf-8")
	h, err := NewHandler(&fakeUp{}, Config{Charsets: []string{"ISO-8859-1", "ISO-2022-JP", "Shift_JIS", "windows-1252"}})
	require.NoError(f, err)
	f.Fuzz(func(t *testing.T, data []byte, contentType string) {
		out, err := h.toUTF8(data, contentType)
		if err != nil {
			require.Equal(t, BadRequest, ConditionOf(err))
			return
		}
		if !bytes.Equal(out, data) {
			require.True(t, utf8.Valid(out), "converted body is not UTF-8")
		}
		var doc xmlscan.Doc
		var b body
		checkDecode(t, out, h.limits, &doc, &b)
	})
}
