package xmppprom_test

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/httpbind/httpbind/xmppstream"
	"github.com/httpbind/httpbind/xmppstream/memcore"
	"github.com/httpbind/httpbind/xmppstream/xmppprom"
)

func TestCollectorsLint(t *testing.T) {
	core, err := memcore.New(memcore.Config{Domain: "example.com"})
	require.NoError(t, err)
	srv, err := xmppstream.NewServer(core, xmppstream.ServerConfig{Domains: []string{"example.com"}})
	require.NoError(t, err)
	up, err := xmppstream.NewTCPUpstream(xmppstream.TCPConfig{Addr: "127.0.0.1:5222", Domains: []string{"example.com"}})
	require.NoError(t, err)
	problems, err := testutil.CollectAndLint(xmppprom.NewServerCollector(srv))
	require.NoError(t, err)
	assert.Empty(t, problems)
	problems, err = testutil.CollectAndLint(xmppprom.NewTCPCollector(up))
	require.NoError(t, err)
	assert.Empty(t, problems)
	assert.Equal(t, 1, testutil.CollectAndCount(xmppprom.NewTCPCollector(up)), "the streams gauge; no failure yet")
}
