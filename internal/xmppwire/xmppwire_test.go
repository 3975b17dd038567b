package xmppwire

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

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

func TestAppendEscaped(t *testing.T) {
	assert.Equal(t, "x&lt;&#39;&#34;&amp;", string(AppendEscaped([]byte("x"), `<'"&`)))
}
