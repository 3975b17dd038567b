package xmppstream_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/httpbind/httpbind/bosh"
	"github.com/httpbind/httpbind/xmppstream"
)

// farConn is a loopback connection that reports a remote address off this
// host (TEST-NET-1, RFC 5737), so that the upstream treats the server as
// one across a network. No packet goes there.
type farConn struct{ net.Conn }

func (farConn) RemoteAddr() net.Addr { return &net.TCPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 5222} }

// farDial dials addr on loopback and reports the server as far away.
func farDial(ctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	return farConn{c}, nil
}

// stripProxy is an attacker on the path to a fake server: it removes
// <starttls/> from the server's stream features (RFC 6120 §13.7.1.1,
// a STARTTLS stripping downgrade) and relays everything else.
func stripProxy(t *testing.T, server string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Go(func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		s, err := net.Dial("tcp", server)
		if err != nil {
			return
		}
		defer s.Close()
		go func() { io.Copy(s, c); s.Close() }()
		var pending []byte
		buf := make([]byte, 4096)
		for {
			n, err := s.Read(buf)
			pending = append(pending, buf[:n]...)
			if i := bytes.Index(pending, []byte("</stream:features>")); i >= 0 {
				start := bytes.Index(pending, []byte("<starttls "))
				if end := bytes.Index(pending, []byte("</starttls>")); start >= 0 && end > start {
					pending = append(pending[:start:start], pending[end+len("</starttls>"):]...)
				}
				c.Write(pending)
				pending = nil
			}
			if err != nil {
				return
			}
		}
	})
	return ln.Addr().String()
}

// TLS toward the XMPP server is required unless it is on loopback or a
// Unix socket (RFC 6120 §13.7.1: without TLS, SASL PLAIN carries the
// password in clear), and TCPConfig.InsecurePlaintext opts out of that
// explicitly.
func TestTCPTLSRequiredOffLoopback(t *testing.T) {
	noLeak(t)
	ca := newTestCA(t)
	tests := []struct {
		name    string
		opts    fakeOpts
		strip   bool // an attacker removes <starttls/> on the way
		edit    func(*xmppstream.TCPConfig)
		authid  string // the stream the session got, "" for refused
		plainOK bool
	}{
		{name: "STARTTLS stripped off loopback: refused (RFC 6120 §13.7.1.1)",
			opts: fakeOpts{starttls: true, ca: ca}, strip: true},
		{name: "no STARTTLS offered off loopback: refused (RFC 6120 §5.3.1)", opts: fakeOpts{}},
		{name: "STARTTLS offered off loopback: used (RFC 6120 §5.4)",
			opts: fakeOpts{starttls: true, ca: ca}, authid: "id-tls"},
		{name: "no STARTTLS off loopback with InsecurePlaintext: plain, as asked",
			opts: fakeOpts{}, edit: func(c *xmppstream.TCPConfig) { c.InsecurePlaintext = true }, authid: "id-pre"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeServer(t, tt.opts)
			cfg := tcpConfig(f, nil)
			cfg.Dial = farDial
			if tt.strip {
				cfg.Addr = stripProxy(t, f.addr)
			}
			if tt.edit != nil {
				tt.edit(&cfg)
			}
			sink := newRecSink()
			st, err := newUpstream(t, cfg).Open(context.Background(), openReq(), sink)
			if tt.authid == "" {
				require.Error(t, err)
				assert.Equal(t, bosh.RemoteConnectionFailed, bosh.ConditionOf(err), "%v", err)
				assert.Contains(t, err.Error(), "InsecurePlaintext", "the error names the way out")
				return
			}
			require.NoError(t, err)
			st.Close(bosh.Closing{})
			assert.Equal(t, tt.authid, sink.attr("authid"))
		})
	}
}

// TestTCPTLSOptions: contradicting options are an error from
// NewTCPUpstream, never resolved silently.
func TestTCPTLSOptions(t *testing.T) {
	_, err := xmppstream.NewTCPUpstream(xmppstream.TCPConfig{
		Addr: "127.0.0.1:5222", Domains: []string{fDomain}, RequireTLS: true, InsecurePlaintext: true})
	require.Error(t, err)
	assert.True(t, strings.Contains(err.Error(), "RequireTLS") && strings.Contains(err.Error(), "InsecurePlaintext"), err.Error())
}

// Sessions after the first resume their TLS session with the server (RFC
// 8446 §2.2) through the upstream's own session cache, so a login costs
// one full handshake per server name; with a cache of the host's own, the
// host's is used.
func TestTCPTLSResumes(t *testing.T) {
	noLeak(t)
	ca := newTestCA(t)
	tests := []struct {
		name  string
		cache tls.ClientSessionCache
	}{
		{name: "the upstream's cache"},
		{name: "the host's cache", cache: tls.NewLRUClientSessionCache(4)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeServer(t, fakeOpts{starttls: true, ca: ca})
			cfg := tcpConfig(f, nil)
			cfg.TLSConfig.ClientSessionCache = tt.cache
			up := newUpstream(t, cfg)
			const sessions = 3
			for i := range sessions {
				_, sink := open(t, up, openReq())
				sink.waitPayloads(t, 1) // the features, read after the ticket
				require.EqualValues(t, i+1, f.handshakes.Load())
			}
			assert.EqualValues(t, sessions-1, f.resumed.Load(), "every handshake after the first resumes")
			if tt.cache == nil {
				assert.Nil(t, cfg.TLSConfig.ClientSessionCache, "the host's tls.Config is left as it was")
			} else {
				_, ok := tt.cache.Get(fDomain)
				assert.True(t, ok, "the host's cache holds the server's session")
			}
		})
	}
}
