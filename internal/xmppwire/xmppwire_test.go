package xmppwire

import (
	"encoding/xml"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const ns = " xmlns='http://jabber.org/protocol/httpbind'"

func TestRequestBody(t *testing.T) {
	for _, tc := range []struct {
		name     string
		extra    string
		payloads [][]byte
		want     string
	}{
		{"empty (XEP-0124 §8)", "", nil, "<body rid='7' sid='s&amp;1' xmlns='" + NSHTTPBind + "'/>"},
		{"with attributes and payloads", " ack='6'", [][]byte{[]byte("<a/>"), []byte("<b/>")},
			"<body rid='7' sid='s&amp;1' ack='6' xmlns='" + NSHTTPBind + "'><a/><b/></body>"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, string(RequestBody(7, "s&1", tc.extra, tc.payloads)))
		})
	}
}

func TestEscape(t *testing.T) {
	for _, tc := range []struct {
		name, in, attr, text string
	}{
		{"plain", "abc", "abc", "abc"},
		{"the five special characters", `<'"&>`, "&lt;&apos;&quot;&amp;&gt;", `&lt;'"&amp;&gt;`},
		{"white space attribute normalization would change (XML 1.0 §3.3.3)", "a\tb\nc\rd", "a&#9;b&#10;c&#13;d", "a\tb\nc\rd"},
		{"non-ASCII is kept", "é€", "é€", "é€"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, "x"+tc.attr, string(AppendAttr([]byte("x"), tc.in)))
			assert.Equal(t, tc.attr, string(AppendAttr(nil, []byte(tc.in))))
			assert.Equal(t, tc.text, string(AppendText(nil, tc.in)))
			var v struct {
				A string `xml:"a,attr"`
			}
			require.NoError(t, xml.Unmarshal([]byte("<e a='"+tc.attr+"'/>"), &v))
			assert.Equal(t, tc.in, v.A, "an attribute value round-trips")
		})
	}
}

func BenchmarkAppendAttr(b *testing.B) {
	buf := make([]byte, 0, 64)
	b.ReportAllocs()
	for range b.N {
		buf = AppendAttr(buf[:0], "juliet@example.com/balcony & 'garden'")
	}
}

func TestParseResponse(t *testing.T) {
	tests := []struct {
		name     string
		in       string
		payloads []string
		attr     [3]string // space, local, want
	}{
		{
			name:     "empty body (XEP-0124 §8, Ex. 5)",
			in:       "<body" + ns + "/>",
			payloads: nil,
		},
		{
			name: "features with xmlns:stream on <body/> are carried onto the element (XEP-0206 §4, Ex. 2)",
			in: "<body" + ns + " xmlns:stream='http://etherx.jabber.org/streams' xmlns:xmpp='urn:xmpp:xbosh' xmpp:version='1.0'>" +
				"<stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></stream:features></body>",
			payloads: []string{"<stream:features xmlns:stream='http://etherx.jabber.org/streams'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></stream:features>"},
			attr:     [3]string{NSXBOSH, "version", "1.0"},
		},
		{
			name:     "pretty-printed body: whitespace between payloads is tolerated",
			in:       "<body" + ns + " sid='s'>\n  <message xmlns='jabber:client'/>\n  <iq xmlns='jabber:client'/>\n</body>\n",
			payloads: []string{"<message xmlns='jabber:client'/>", "<iq xmlns='jabber:client'/>"},
			attr:     [3]string{"", "sid", "s"},
		},
		{
			name:     "a declaration already on the element is not repeated",
			in:       "<body" + ns + " xmlns:stream='http://etherx.jabber.org/streams'><stream:error xmlns:stream='http://etherx.jabber.org/streams'/></body>",
			payloads: []string{"<stream:error xmlns:stream='http://etherx.jabber.org/streams'/>"},
		},
		{
			name:     "terminate body",
			in:       "<body type='terminate' condition='item-not-found'" + ns + "/>",
			attr:     [3]string{"", "condition", "item-not-found"},
			payloads: nil,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := ParseResponse([]byte(tt.in))
			require.NoError(t, err)
			var got []string
			for _, p := range r.Elements {
				got = append(got, string(p.Raw))
				require.NoError(t, xml.Unmarshal(p.Raw, new(struct{})), "each payload parses on its own")
			}
			assert.Equal(t, tt.payloads, got)
			if tt.attr[1] != "" {
				assert.Equal(t, tt.attr[2], r.Attr(tt.attr[0], tt.attr[1]))
			}
		})
	}
}

func TestParseResponseRejects(t *testing.T) {
	tests := []struct{ name, in string }{
		{"not a BOSH body (XEP-0124 §6)", "<body/>"},
		{"other root", "<foo" + ns + "/>"},
		{"text directly in <body/> (XEP-0124 §6)", "<body" + ns + ">hello</body>"},
		{"truncated", "<body" + ns + "><message>"},
		{"empty", ""},
		{"two roots", "<body" + ns + "/><body" + ns + "/>"},
		{"stream:features without xmlns:stream on <body/> (XEP-0206 §2)",
			"<body" + ns + "><stream:features/></body>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseResponse([]byte(tt.in))
			assert.Error(t, err)
		})
	}
}

// FuzzParseResponse checks that parseResponse never panics and that every
// payload it returns parses on its own.
func FuzzParseResponse(f *testing.F) {
	f.Add([]byte("<body" + ns + "/>"))
	f.Add([]byte("<body" + ns + " xmlns:stream='http://etherx.jabber.org/streams'><stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism></mechanisms></stream:features></body>"))
	f.Add([]byte("<body condition='remote-stream-error' type='terminate'" + ns + " xmlns:stream='http://etherx.jabber.org/streams'><message xmlns='jabber:client'><body>I said &quot;Hi!&quot;</body></message><stream:error><xml-not-well-formed xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error></body>"))
	f.Add([]byte("<body" + ns + "><stream:features/></body>"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := ParseResponse(data)
		if err != nil {
			return
		}
		for _, p := range r.Elements {
			if err := xml.Unmarshal(p.Raw, new(struct{})); err != nil {
				t.Fatalf("payload %q of %q: %v", p.Raw, data, err)
			}
		}
	})
}
