package xmppstream

import (
	"errors"
	"io"
	"math/rand/v2"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/httpbind/httpbind/internal/xmlscan"
)

// serverHeader is a server's answer header (RFC 6120 §4.7, Prosody's
// style: double quotes, xmlns:stream first).
const serverHeader = `<?xml version='1.0'?><stream:stream xmlns:stream="http://etherx.jabber.org/streams" xml:lang="en" id="c2s-id-1" from="example.com" version="1.0" xmlns="jabber:client">`

// chunkReader returns its data in chunks of the sizes a rand gives (1 to
// max bytes), then io.EOF.
type chunkReader struct {
	data []byte
	rnd  *rand.Rand
	max  int
}

func (r *chunkReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, io.EOF
	}
	n := 1 + r.rnd.IntN(r.max)
	n = min(n, len(p), len(r.data))
	copy(p, r.data[:n])
	r.data = r.data[n:]
	return n, nil
}

// item is a reader's output, as tests compare it.
type item struct {
	kind eventKind
	raw  string // for an element: as made self-contained
}

// readAll runs a reader over data split in chunks of up to chunk bytes and
// returns the items, and the error that ended it (io.EOF at a clean end).
// It checks each element as the TCP upstream does.
func readAll(t testing.TB, data []byte, chunk int, seed uint64, max int, restarts int32) ([]item, error) {
	var rs atomic.Int32
	rs.Store(restarts)
	sr := newStreamReader(&chunkReader{data: data, rnd: rand.New(rand.NewPCG(seed, 1)), max: chunk}, max, &rs)
	var out []item
	var h *streamHeader
	var doc xmlscan.Doc
	for range len(data) + 1 { // every item consumes at least one byte
		ev, err := sr.next()
		if cap(sr.buf) > max+readChunk {
			t.Fatalf("buffer grew to %d bytes (max %d)", cap(sr.buf), max)
		}
		if err != nil {
			return out, err
		}
		switch ev.kind {
		case evHeader:
			if h, err = parseHeader(ev.raw, sr.qname, &doc); err != nil {
				return out, err
			}
			out = append(out, item{kind: evHeader, raw: string(ev.raw)})
		case evEnd:
			out = append(out, item{kind: evEnd})
		case evElement:
			if h == nil {
				t.Fatalf("element before a header: %q", ev.raw)
			}
			el, err := h.element(ev, &doc)
			if err != nil {
				return out, err
			}
			checkSelfContained(t, el)
			out = append(out, item{kind: evElement, raw: string(el.raw)})
		}
	}
	t.Fatalf("reader did not stop")
	return nil, nil
}

// checkSelfContained checks that an element relayed to the client is
// well-formed on its own (xmlscan, without the stream header's
// declarations) and has the name it had in the stream.
func checkSelfContained(t testing.TB, el checked) {
	var doc xmlscan.Doc
	w := append(append([]byte("<w>"), el.raw...), "</w>"...)
	if err := xmlscan.Parse(w, elementLimits, &doc); err != nil || len(doc.Children) != 1 {
		t.Fatalf("relayed element is not self-contained: %v\n%s", err, el.raw)
	}
	c := doc.Children[0]
	if string(c.Space) != el.space || string(c.Local) != el.local {
		t.Fatalf("relayed element is {%s}%s, was {%s}%s\n%s", c.Space, c.Local, el.space, el.local, el.raw)
	}
}

func TestStreamReaderSplits(t *testing.T) {
	features := `<stream:features><mechanisms xmlns="urn:ietf:params:xml:ns:xmpp-sasl"><mechanism>PLAIN</mechanism></mechanisms></stream:features>`
	tests := []struct {
		name     string
		in       string
		restarts int32
		want     []item
		err      error // nil: the input ends cleanly (io.EOF)
	}{
		{
			name: "header, features, stanza, keep-alive, end (RFC 6120 §4.2, §4.4, §4.6.1)",
			in: serverHeader + features + "\n \n<message from='a@example.com'><body>&lt;hi&gt; <![CDATA[<x> ]] ]]]]><![CDATA[>]]></body></message>" +
				" \t\r\n</stream:stream\n>",
			want: []item{
				{evHeader, serverHeader},
				{evElement, `<stream:features xmlns:stream='http://etherx.jabber.org/streams'><mechanisms xmlns="urn:ietf:params:xml:ns:xmpp-sasl"><mechanism>PLAIN</mechanism></mechanisms></stream:features>`},
				{evElement, "<message xmlns='jabber:client' from='a@example.com'><body>&lt;hi&gt; <![CDATA[<x> ]] ]]]]><![CDATA[>]]></body></message>"},
				{kind: evEnd},
			},
		},
		{
			name: "'>' and '/' inside attribute values, self-closing stanza",
			in:   serverHeader + `<presence id="a>b/>" type='x/'/><iq id='1' type='result'/>`,
			want: []item{
				{evHeader, serverHeader},
				{evElement, `<presence xmlns='jabber:client' id="a>b/>" type='x/'/>`},
				{evElement, `<iq xmlns='jabber:client' id='1' type='result'/>`},
			},
		},
		{
			name: "an element with its own default namespace gets no declaration",
			in:   serverHeader + `<success xmlns="urn:ietf:params:xml:ns:xmpp-sasl">dmVyaWZpZXI=</success>`,
			want: []item{
				{evHeader, serverHeader},
				{evElement, `<success xmlns="urn:ietf:params:xml:ns:xmpp-sasl">dmVyaWZpZXI=</success>`},
			},
		},
		{
			name: "a prefixed element whose child inherits jabber:client gets both",
			in:   serverHeader + `<stream:features><x/></stream:features>`,
			want: []item{
				{evHeader, serverHeader},
				{evElement, `<stream:features xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'><x/></stream:features>`},
			},
		},
		{
			name:     "restart header after the client's (XEP-0206 §5)",
			in:       serverHeader + `<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>` + serverHeader + `<stream:features/>`,
			restarts: 1,
			want: []item{
				{evHeader, serverHeader},
				{evElement, `<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>`},
				{evHeader, serverHeader},
				{evElement, `<stream:features xmlns:stream='http://etherx.jabber.org/streams'/>`},
			},
		},
		{
			name: "restart header without a restart",
			in:   serverHeader + `<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>` + serverHeader,
			want: []item{{evHeader, serverHeader}, {evElement, `<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>`}},
			err:  errServerXML,
		},
		{name: "DOCTYPE before the header (RFC 6120 §11.1)", in: `<?xml version='1.0'?><!DOCTYPE x [<!ENTITY a "b">]>` + serverHeader, err: errServerXML},
		{name: "DOCTYPE after the header", in: serverHeader + `<!DOCTYPE x>`, want: []item{{evHeader, serverHeader}}, err: errServerXML},
		{name: "comment in a stanza", in: serverHeader + `<message><!-- x --></message>`, want: []item{{evHeader, serverHeader}}, err: errServerXML},
		{name: "processing instruction in a stanza", in: serverHeader + `<message><?pi x?></message>`, want: []item{{evHeader, serverHeader}}, err: errServerXML},
		{name: "entity reference is never expanded", in: serverHeader + `<message><body>&xxe;</body></message>`, want: []item{{evHeader, serverHeader}}, err: errServerXML},
		{name: "text at the stream level", in: serverHeader + `hello`, want: []item{{evHeader, serverHeader}}, err: errServerXML},
		{name: "mismatched tags", in: serverHeader + `<message></iq>`, want: []item{{evHeader, serverHeader}}, err: errServerXML},
		{name: "wrong stream end tag", in: serverHeader + `</stream>`, want: []item{{evHeader, serverHeader}}, err: errServerXML},
		{name: "not a stream header", in: `<html>`, err: errServerXML},
		{name: "element over the limit", in: serverHeader + `<message>` + strings.Repeat("x", 2000) + `</message>`, want: []item{{evHeader, serverHeader}}, err: errStanzaLimit},
		{name: "nesting over the depth limit", in: serverHeader + strings.Repeat("<a>", readerMaxDepth+1), want: []item{{evHeader, serverHeader}}, err: errStanzaLimit},
		{name: "truncated element", in: serverHeader + `<message><bo`, want: []item{{evHeader, serverHeader}}, err: io.EOF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			max := 1024
			if tt.name == "nesting over the depth limit" {
				max = 8192
			}
			for _, chunk := range []int{1, 7, 4096} {
				got, err := readAll(t, []byte(tt.in), chunk, uint64(chunk), max, tt.restarts)
				want := tt.err
				if want == nil {
					want = io.EOF
				}
				assert.ErrorIs(t, err, want, "chunks of %d", chunk)
				assert.Equal(t, tt.want, got, "chunks of %d", chunk)
			}
		})
	}
}

// Keep-alives (RFC 6120 §4.6.1) cost no memory, however many.
func TestStreamReaderKeepAlives(t *testing.T) {
	in := serverHeader + strings.Repeat(" ", 1<<20) + "<presence/>"
	got, err := readAll(t, []byte(in), 4096, 1, 1024, 0)
	require.ErrorIs(t, err, io.EOF)
	require.Len(t, got, 2)
	assert.Equal(t, "<presence xmlns='jabber:client'/>", got[1].raw)
}

// stripFeatures hides STARTTLS (XEP-0206 §4) and
// compression and keeps the rest byte for byte.
func TestStripFeatures(t *testing.T) {
	var doc xmlscan.Doc
	in := `<stream:features xmlns:stream='http://etherx.jabber.org/streams'><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls>` +
		`<mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism></mechanisms>` +
		`<compression xmlns='http://jabber.org/features/compress'><method>zlib</method></compression><ver xmlns='urn:xmpp:features:rosterver'/></stream:features>`
	out, tls := stripFeatures([]byte(in), &doc)
	assert.True(t, tls)
	assert.Equal(t, `<stream:features xmlns:stream='http://etherx.jabber.org/streams'>`+
		`<mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism></mechanisms>`+
		`<ver xmlns='urn:xmpp:features:rosterver'/></stream:features>`, string(out))
	plain := `<stream:features xmlns:stream='http://etherx.jabber.org/streams'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></stream:features>`
	out, tls = stripFeatures([]byte(plain), &doc)
	assert.False(t, tls)
	assert.Equal(t, plain, string(out))
}

// FuzzStreamReader feeds the TCP stream reader arbitrary bytes, in random
// chunks: it never panics, its buffer stays within the limit, every
// element it returns is well-formed and self-contained per xmlscan with
// the name it had in the stream, and the split does not change the
// outcome.
func FuzzStreamReader(f *testing.F) {
	for _, s := range []string{
		serverHeader + `<stream:features><mechanisms xmlns="urn:ietf:params:xml:ns:xmpp-sasl"><mechanism>PLAIN</mechanism></mechanisms></stream:features>`,
		serverHeader + `<message from='a@b' to='c@d/e'><body>&lt;&#65;<![CDATA[]]>]]></body></message> </stream:stream>`,
		serverHeader + `<stream:error><conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error></stream:stream>`,
		serverHeader + `<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>` + serverHeader + `<stream:features/>`,
		`<stream:stream xmlns:stream='http://etherx.jabber.org/streams' xmlns:p='urn:p'><p:x><y p:a='1'/></p:x><z xmlns=''><p:q/></z>`,
		`<s:stream xmlns:s='http://etherx.jabber.org/streams' xmlns='jabber:client'><s:features><x/></s:features></s:stream>`,
		serverHeader + `<!DOCTYPE x>`,
		serverHeader + `<iq a='>'/><iq b="/>"/>`,
	} {
		f.Add([]byte(s), uint64(1), uint8(3))
	}
	f.Fuzz(func(t *testing.T, data []byte, seed uint64, chunk uint8) {
		const max = 1024
		whole, errWhole := readAll(t, data, 1<<16, seed, max, 2)
		split, errSplit := readAll(t, data, 1+int(chunk), seed, max, 2)
		if !equalItems(whole, split) || !sameError(errWhole, errSplit) {
			t.Fatalf("split changes the outcome:\n%v %v\n%v %v", whole, errWhole, split, errSplit)
		}
	})
}

func equalItems(a, b []item) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// sameError compares reader errors by kind.
func sameError(a, b error) bool {
	for _, k := range []error{io.EOF, errServerXML, errStanzaLimit} {
		if errors.Is(a, k) != errors.Is(b, k) {
			return false
		}
	}
	return true
}

// sliceReader returns one chunk a Read, then io.EOF.
type sliceReader struct{ chunks []string }

func (r *sliceReader) Read(p []byte) (int, error) {
	if len(r.chunks) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.chunks[0])
	if r.chunks[0] = r.chunks[0][n:]; r.chunks[0] == "" {
		r.chunks = r.chunks[1:]
	}
	return n, nil
}

// nextBuffered returns the items that the bytes already read complete,
// and never reads: an item cut by the end of a read waits for next, which
// goes on from where the scan stopped.
func TestStreamReaderNextBuffered(t *testing.T) {
	r := &sliceReader{chunks: []string{
		serverHeader + "<a/> <b>x</b><c>par", "tial</c><d/>",
	}}
	sr := newStreamReader(r, 4096, new(atomic.Int32))
	ev, err := sr.next()
	require.NoError(t, err)
	assert.Equal(t, evHeader, ev.kind)
	var got []string
	for {
		ev, ok, err := sr.nextBuffered()
		require.NoError(t, err)
		if !ok {
			break
		}
		got = append(got, string(ev.raw))
	}
	assert.Equal(t, []string{"<a/>", "<b>x</b>"}, got, "the complete items of the first read")
	assert.Len(t, r.chunks, 1, "nextBuffered read nothing")
	ev, err = sr.next()
	require.NoError(t, err)
	assert.Equal(t, "<c>partial</c>", string(ev.raw))
	ev, ok, err := sr.nextBuffered()
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, "<d/>", string(ev.raw))
}
