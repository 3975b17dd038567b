package xmppstream

import (
	"log/slog"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/httpbind/httpbind/bosh"
)

// in a multi-stream session (XEP-0124 §16), a stream added with 'to'
// gets its own stream name, xmpp:version and pre-auth features.
func TestAddStreamCarriesVersion(t *testing.T) {
	logger := slog.New(slog.DiscardHandler)
	core := newFakeCore()
	srv, err := NewServer(core, ServerConfig{Domains: []string{testDomain}, Logger: logger})
	require.NoError(t, err)
	hd, err := bosh.NewHandler(srv, bosh.Config{NoPolling: true, MultipleStreams: true, Logger: logger})
	require.NoError(t, err)
	h := &harness{t: t, core: core, srv: srv, h: hd}
	s, created := h.create(defaultCreate)
	first, ok := created.attr("", "stream")
	require.True(t, ok, created.raw)

	r := s.send("to='" + testDomain + "' xml:lang='en' xmlns:xmpp='urn:xmpp:xbosh' xmpp:version='1.0'")
	name, ok := r.attr("", "stream")
	require.True(t, ok, "§16.3: the new stream is named: %s", r.raw)
	assert.NotEqual(t, first, name)
	v, ok := r.attr(nsXBOSH, "version")
	assert.True(t, ok, r.raw)
	assert.Equal(t, "1.0", v)
	assert.NotEmpty(t, r.child(nsStream, "features"), r.raw)
}
