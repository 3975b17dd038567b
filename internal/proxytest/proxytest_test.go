package proxytest

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestProxies: each proxy starts with its own configuration, relays a
// request to the server behind it, and the Relay sees its connections.
func TestProxies(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello %s", r.URL.Path)
	}))
	defer srv.Close()
	tests := []struct {
		name  string
		start func(t *testing.T, addr, backend string) *Proxy
	}{
		{"nginx", func(t *testing.T, addr, backend string) *Proxy {
			return Nginx(t, addr, fmt.Sprintf("server {\n\tlisten %s;\n\tlocation / { proxy_pass http://%s; }\n}\n", addr, backend))
		}},
		{"haproxy", func(t *testing.T, addr, backend string) *Proxy {
			return HAProxy(t, addr, fmt.Sprintf("frontend f\n\tbind %s\n\tdefault_backend b\nbackend b\n\tserver s %s\n", addr, backend))
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := Count(t, srv.Listener.Addr().String())
			p := tc.start(t, FreeAddr(t), c.Addr)
			res, err := http.Get("http://" + p.Addr + "/x")
			require.NoError(t, err)
			body, err := io.ReadAll(res.Body)
			res.Body.Close()
			require.NoError(t, err)
			assert.Equal(t, http.StatusOK, res.StatusCode)
			assert.Equal(t, "hello /x", string(body))
			assert.Equal(t, 1, c.Conns())
		})
	}
}
