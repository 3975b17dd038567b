package main

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/httpbind/httpbind/internal/xmppwire"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseStamp(t *testing.T) {
	for _, tc := range []struct {
		name string
		el   string
		want stamp
		ok   bool
	}{
		{name: "as sent", el: string(appendMessage(nil, messageHead("user2@localhost/boshload"), 3, 17, 123456789)),
			want: stamp{from: 3, seq: 17, nanos: 123456789}, ok: true},
		{name: "re-serialized by a server, body after other children",
			el:   `<message from="a@x/r" to="b@x/r" type="chat" xmlns="jabber:client"><bodyx>1 2 3</bodyx><body xml:lang="en">4 5 6</body></message>`,
			want: stamp{from: 4, seq: 5, nanos: 6}, ok: true},
		{name: "no body", el: `<message xmlns='jabber:client'><x/></message>`},
		{name: "two numbers", el: `<message><body>1 2</body></message>`},
		{name: "not numbers", el: `<message><body>hello there world</body></message>`},
		{name: "unterminated", el: `<message><body>1 2 3`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := parseStamp([]byte(tc.el))
			assert.Equal(t, tc.ok, ok)
			if tc.ok {
				assert.Equal(t, tc.want, got)
			}
		})
	}
}

func TestReplyParse(t *testing.T) {
	var r reply
	data := []byte(`<body xmlns='http://jabber.org/protocol/httpbind' xmlns:stream='http://etherx.jabber.org/streams' sid='s1' requests='2'>` +
		`<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism></mechanisms></stream:features>` +
		`<iq type='result' id='bind_1' xmlns='jabber:client'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><jid>u@x/r</jid></bind></iq></body>`)
	require.NoError(t, r.parse(data))
	assert.Equal(t, "s1", string(r.attr("sid")))
	require.Len(t, r.doc.Children, 2)
	assert.Equal(t, xmppwire.NSStream, string(r.doc.Children[0].Space))
	assert.True(t, hasID(r.child(1), "bind_1"))
	assert.False(t, hasID(r.child(1), "bind"))
	assert.Equal(t, "u@x/r", textOf(r.child(1), "jid"))

	err := r.parse([]byte(`<body xmlns='http://jabber.org/protocol/httpbind' type='terminate' condition='policy-violation'/>`))
	var term *terminated
	require.True(t, errors.As(err, &term), "%v", err)
	assert.Equal(t, "policy-violation", term.condition)

	assert.Error(t, r.parse([]byte(`<body xmlns='jabber:client'/>`)), "not a BOSH body")
	assert.Error(t, r.parse([]byte(`<body xmlns='http://jabber.org/protocol/httpbind'>`)), "not well-formed")
}

func TestRequestBodies(t *testing.T) {
	var r reply
	for name, b := range map[string][]byte{
		"create":  appendCreate(nil, 10, "ex'ample", 30),
		"restart": appendRestart(nil, 11, "s&1", "example"),
		"message": append(appendMessage(appendOpen(nil, 12, "s1", ""), messageHead("a'b@x"), 1, 2, 3), closeBody...),
	} {
		require.NoError(t, r.parse(b), "%s: %s", name, b)
	}
	var term *terminated
	require.ErrorAs(t, r.parse(append(appendOpen(nil, 13, "s1", " type='terminate'"), closeBody...)), &term)
	assert.True(t, bytes.Contains(appendCreate(nil, 10, "x", 30), []byte("hold='1'")))
}

func TestReceiveStats(t *testing.T) {
	r := newReceiveStats(70)
	for _, seq := range []int{0, 1, 65, 2, 2, 69, 70, -1} {
		r.add(seq, 5, seq == 65)
	}
	assert.Equal(t, 5, r.count)
	assert.Equal(t, 1, r.dups)
	assert.Equal(t, 1, r.ooo, "2 after 65")
	assert.Len(t, r.lat, 4, "direct")
	assert.Len(t, r.latFwd, 1, "forwarded")
	assert.Equal(t, 1, r.fwd)
}

// TestParseRetryAfter: delay-seconds and HTTP-dates (RFC 9110 §10.2.3).
func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"5", 5 * time.Second},
		{"0", 0},
		{"-3", 0},
		{"soon", 0},
		{"Mon, 23 Nov 2026 12:00:07 GMT", 7 * time.Second},
		{"Mon, 23 Nov 2026 11:59:00 GMT", 0},
	} {
		assert.Equal(t, tc.want, parseRetryAfter(tc.in, now), "%q", tc.in)
	}
}

// TestCountLost: a message its addressee never received is lost, and
// explained by the lives of the two sessions (session.life: even while
// live, odd while gone) when it went on the wire and at the end.
func TestCountLost(t *testing.T) {
	n1, n2 := "n1", "n2"
	for _, tc := range []struct {
		name          string
		lv            lives
		own, partner  int32 // at the end
		gone, ended   int64
		from, unknown int64
		route         string
	}{
		{name: "sent while the addressee had no session", lv: lives{own: 0, partner: 1, from: &n1, to: &n2}, own: 0, partner: 2, gone: 1, route: "n1>n2"},
		{name: "addressee ended before it arrived (§17.2)", lv: lives{own: 0, partner: 0, from: &n1, to: &n2}, own: 0, partner: 2, ended: 1, route: "n1>n2"},
		{name: "sender ended after sending it", lv: lives{own: 2, partner: 0, from: &n2, to: &n1}, own: 3, partner: 0, from: 1, route: "n2>n1"},
		{name: "both lived on", lv: lives{own: 0, partner: 0, from: &n1, to: &n1}, own: 0, partner: 0, unknown: 1, route: "n1>n1"},
		{name: "no node known yet", lv: lives{}, unknown: 1, route: "?>?"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var r result
			seen := []uint64{1} // message 0 arrived, message 1 did not
			r.countLost([]lives{{}, tc.lv}, tc.own, tc.partner, seen)
			assert.Equal(t, int64(1), r.Lost)
			assert.Equal(t, tc.gone, r.LostToGone, "to a gone session")
			assert.Equal(t, tc.ended, r.LostToEnded, "to an ended session")
			assert.Equal(t, tc.from, r.LostFromEnded, "from an ended session")
			assert.Equal(t, tc.unknown, r.LostLive, "between live sessions")
			assert.Equal(t, map[string]int{tc.route: 1}, r.LostByRoute)
		})
	}
}
