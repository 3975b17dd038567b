package bosh

import (
	"context"
	"encoding/base64"
	"go/ast"
	"go/parser"
	"go/token"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Security checks (XEP-0124 §19, and the style
// guide's rules), as tests anyone can run. The check that a session created
// over TLS refuses plaintext requests is TestSecureSessionOverPlainConnection;
// the log check is TestLogsHoldNoSecrets (security_log_test.go).

// TestSecuritySIDsUnpredictable: 10,000 sessions, created and ended, get
// 10,000 different sids of at least 128 random bits in the base64url
// alphabet (§7.2, §19.3: unique and unpredictable).
func TestSecuritySIDsUnpredictable(t *testing.T) {
	const n = 10000
	x := newTester(t, Config{SessionBurst: n, MaxSessionsPerAddress: n})
	seen := make(map[string]bool, n)
	for i := range n {
		r := x.send(createBody(1000, ""))
		sid := r.Attr("sid")
		require.NotEmpty(t, sid, r.Raw)
		require.False(t, seen[sid], "sid %q reused after %d sessions", sid, i)
		seen[sid] = true
		raw, err := base64.RawURLEncoding.DecodeString(sid)
		require.NoError(t, err, "sid %q is not base64url", sid)
		require.GreaterOrEqual(t, len(raw)*8, 128, "sid %q has fewer than 128 bits", sid)
		if i%2 == 0 { // end half at once, so that ids of ended sessions are not reused either
			s := &sess{x: x, sid: sid, rid: 1000}
			require.Equal(t, "terminate", s.send(1, "type='terminate'", "").Type())
		}
	}
	assert.Equal(t, int64(n/2), x.h.Stats().Sessions)
}

// TestSecurityKeysCompared: keys (§15) are compared case-insensitively,
// a key one character short or long is refused with item-not-found and
// ends the session (§15.5), and the comparison is constant-time (§19): the
// session package compares keys only through subtle.ConstantTimeCompare.
func TestSecurityKeysCompared(t *testing.T) {
	keys := ridKeys("seed", 3, false)
	for _, tt := range []struct {
		name string
		key  string
		ok   bool
	}{
		{"exact", keys[2], true},
		{"stored key in uppercase (hash taken over the key as sent)", keys[2], true},
		{"one character short", keys[2][:39], false},
		{"one character long", keys[2] + "0", false},
		{"empty", "", false},
		{"same length, last digit differs", keys[2][:39] + string("0123456789abcdef"[(strings.IndexByte("0123456789abcdef", keys[2][39])+1)%16]), false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			x := newTester(t, Config{})
			x.up.echo = true
			newkey := keys[3]
			if strings.HasPrefix(tt.name, "stored key in uppercase") {
				newkey = strings.ToUpper(newkey)
			}
			s := x.create(1000, "newkey='"+newkey+"'")
			extra := ""
			if tt.key != "" {
				extra = "key='" + tt.key + "'"
			}
			r := s.send(1, extra, "<m xmlns='x'/>")
			if tt.ok {
				assert.Equal(t, []string{"<m xmlns='x'/>"}, r.Children, r.Raw)
				return
			}
			assert.True(t, r.IsTerm(string(ItemNotFound)), r.Raw)
			assert.Empty(t, x.up.stream(t, 0).payloads(), "refused before it reaches the upstream")
			assert.Zero(t, x.h.Stats().Sessions)
		})
	}

	// Code-level check: keyEqual uses subtle.ConstantTimeCompare, and no
	// key is compared with == or != anywhere in the session package.
	fset := token.NewFileSet()
	files, err := filepath.Glob("../session/*.go")
	require.NoError(t, err)
	constantTime := false
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		require.NoError(t, err)
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.FuncDecl:
				if n.Name.Name == "keyEqual" {
					ast.Inspect(n.Body, func(m ast.Node) bool {
						if sel, ok := m.(*ast.SelectorExpr); ok && sel.Sel.Name == "ConstantTimeCompare" {
							if id, ok := sel.X.(*ast.Ident); ok && id.Name == "subtle" {
								constantTime = true
							}
						}
						return true
					})
				}
			case *ast.BinaryExpr:
				if n.Op == token.EQL || n.Op == token.NEQ {
					for _, side := range []ast.Expr{n.X, n.Y} {
						if sel, ok := side.(*ast.SelectorExpr); ok && (strings.EqualFold(sel.Sel.Name, "key") || sel.Sel.Name == "NewKey") {
							if !isEmptyString(n.X) && !isEmptyString(n.Y) {
								t.Errorf("%s: key compared with %s, not in constant time", fset.Position(n.Pos()), n.Op)
							}
						}
					}
				}
			}
			return true
		})
	}
	assert.True(t, constantTime, "session.keyEqual calls subtle.ConstantTimeCompare")
}

func isEmptyString(e ast.Expr) bool {
	lit, ok := e.(*ast.BasicLit)
	return ok && lit.Kind == token.STRING && (lit.Value == `""` || lit.Value == "``")
}

// billionLaughs is the classic entity bomb: 10^9 "lol"s if expanded.
func billionLaughs(attrs string) string {
	var b strings.Builder
	b.WriteString("<?xml version='1.0'?><!DOCTYPE body [<!ENTITY lol0 'lol'>")
	for i := 1; i <= 9; i++ {
		b.WriteString("<!ENTITY lol" + strconv.Itoa(i) + " '" + strings.Repeat("&lol"+strconv.Itoa(i-1)+";", 10) + "'>")
	}
	b.WriteString("]><body " + attrs + " xmlns='" + NS + "'><message xmlns='jabber:client'><body>&lol9;</body></message></body>")
	return b.String()
}

// TestSecurityNoEntityExpansion: an entity bomb, an external entity and an
// undeclared entity reference are refused with bad-request (§6), on
// creation and inside a session, never reach the upstream, and 100 bombs
// leave the heap flat.
func TestSecurityNoEntityExpansion(t *testing.T) {
	xxe := "<!DOCTYPE body [<!ENTITY xxe SYSTEM 'file:///etc/passwd'>]><body %s xmlns='" + NS + "'><m xmlns='x'>&xxe;</m></body>"
	undeclared := "<body %s xmlns='" + NS + "'><m xmlns='x'>&xxe;</m></body>"
	docs := map[string]func(attrs string) string{
		"billion laughs":  billionLaughs,
		"external entity": func(a string) string { return strings.Replace(xxe, "%s", a, 1) },
		"undeclared":      func(a string) string { return strings.Replace(undeclared, "%s", a, 1) },
	}
	for name, doc := range docs {
		t.Run(name, func(t *testing.T) {
			x := newTester(t, Config{})
			r := x.send(doc("rid='1000' to='example.com' ver='1.11' wait='60' hold='1'"))
			assert.True(t, r.IsTerm(string(BadRequest)), "creation: %s", r.Raw)
			assert.Empty(t, x.up.opens)
			s := x.create(2000, "")
			r = x.send(doc("rid='2001' sid='" + s.sid + "'"))
			assert.True(t, r.IsTerm(string(BadRequest)), "in a session: %s", r.Raw)
			assert.Empty(t, x.up.stream(t, 0).payloads())
			// A body that does not parse names no session (README):
			// the session goes on, untouched.
			assert.Equal(t, int64(1), x.h.Stats().Sessions)
			x.up.echo = true
			assert.Equal(t, []string{"<m xmlns='x'/>"}, s.send(1, "", "<m xmlns='x'/>").Children)
		})
	}

	t.Run("memory flat", func(t *testing.T) {
		x := newTester(t, Config{})
		bomb := billionLaughs("rid='1000' to='example.com' ver='1.11'")
		x.send(bomb) // warm the pools
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		for range 100 {
			rec := httptest.NewRecorder()
			x.h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/http-bind", strings.NewReader(bomb)))
			require.Contains(t, rec.Body.String(), "bad-request")
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		// Expanded once, the bomb would be 3 GB; 100 refusals keep nothing.
		// The bound is generous for the runtime's own noise under -race.
		growth := int64(after.HeapAlloc) - int64(before.HeapAlloc)
		assert.Less(t, growth, int64(4<<20), "heap grew by %d bytes", growth)
		// Even the allocation total stays small: nothing was expanded.
		assert.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(64<<20))
	})
}

// TestSecurityCORSNeverWildcardWithCredentials: whatever the configuration
// and the Origin, no response allows "*" with credentials (Fetch standard:
// browsers reject it, and a server must not invite it), and credentials
// are granted only to an origin named on the list.
func TestSecurityCORSNeverWildcardWithCredentials(t *testing.T) {
	configs := [][]string{
		nil,
		{"*"},
		{"https://chat.example.com"},
		{"https://chat.example.com", "*"},
		{"*", "https://chat.example.com", "http://localhost:8080"},
	}
	origins := []string{"", "https://chat.example.com", "https://evil.example", "null", "*", "http://example.com", "http://localhost:8080"}
	for _, list := range configs {
		x := newTester(t, Config{AllowOrigins: list})
		for _, origin := range origins {
			for _, method := range []string{http.MethodPost, http.MethodOptions} {
				r := httptest.NewRequest(method, "http://example.com/http-bind", strings.NewReader(createBody(1000, "")))
				if origin != "" {
					r.Header.Set("Origin", origin)
				}
				r.Header.Set("Access-Control-Request-Method", "POST")
				rec := httptest.NewRecorder()
				x.h.ServeHTTP(rec, r)
				acao := rec.Header().Get("Access-Control-Allow-Origin")
				acac := rec.Header().Get("Access-Control-Allow-Credentials")
				where := list
				if acac != "" {
					assert.NotEqual(t, "*", acao, "%v %s from %q: * with credentials", where, method, origin)
					assert.Equal(t, origin, acao, "%v %s from %q", where, method, origin)
					assert.Contains(t, list, origin, "%v %s: credentials only for a listed origin", where, method)
				}
				if acao != "" && acao != "*" {
					assert.Equal(t, origin, acao, "%v %s: only the request's own origin is named", where, method)
				}
			}
		}
		x.h.Shutdown(context.Background())
	}
}
