package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// webchat is one run of the program in this process.
type webchat struct {
	base     string            // http://host:port
	accounts map[string]string // printed demo accounts
}

var (
	urlLine  = regexp.MustCompile(`^webchat: serving (http://[^/\s]+)/ for \S+$`)
	demoLine = regexp.MustCompile(`^webchat: demo account (\S+) password (\S+)$`)
)

// start runs run on 127.0.0.1:0 with args, reads its URL and demo
// accounts, and stops it when the test ends.
func start(t *testing.T, args ...string) *webchat {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	errc := make(chan error, 1)
	go func() {
		err := run(ctx, append([]string{"-listen", "127.0.0.1:0"}, args...), pw, io.Discard)
		pw.Close()
		errc <- err
	}()
	t.Cleanup(func() {
		cancel()
		assert.NoError(t, <-errc)
	})
	w := &webchat{accounts: make(map[string]string)}
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	for line := range lines {
		if m := urlLine.FindStringSubmatch(line); m != nil {
			w.base = m[1]
		}
		if m := demoLine.FindStringSubmatch(line); m != nil {
			w.accounts[m[1]] = m[2]
		}
		if len(w.accounts) == 2 || strings.Contains(line, "accounts from") {
			break
		}
	}
	go func() {
		for range lines {
		}
	}()
	require.NotEmpty(t, w.base, "webchat printed no URL")
	return w
}

// browser is an HTTP client with a cookie jar that does not follow
// redirects, so that tests see them.
func browser(t *testing.T) *http.Client {
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	return &http.Client{
		Jar:           jar,
		Timeout:       20 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// do sends a request and returns the response with its body read.
func do(t *testing.T, c *http.Client, method, u string, form url.Values) (*http.Response, string) {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(t.Context(), method, u, body)
	require.NoError(t, err)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := c.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, string(b)
}

func TestLogin(t *testing.T) {
	w := start(t)
	require.Len(t, w.accounts, 2)
	tests := []struct {
		name       string
		user, pass string
		wantStatus int
		wantCookie bool
	}{
		{name: "right password: cookie, redirect to /chat", user: "alice", pass: w.accounts["alice"], wantStatus: http.StatusSeeOther, wantCookie: true},
		{name: "wrong password: 401, form again", user: "alice", pass: "wrong", wantStatus: http.StatusUnauthorized},
		{name: "bob's password for alice", user: "alice", pass: w.accounts["bob"], wantStatus: http.StatusUnauthorized},
		{name: "unknown user", user: "mallory", pass: "x", wantStatus: http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := browser(t)
			resp, page := do(t, c, http.MethodGet, w.base+"/", nil)
			require.Equal(t, http.StatusOK, resp.StatusCode)
			for _, s := range []string{`name="user"`, `name="password"`, `type="submit"`} {
				assert.Contains(t, page, s, "stable form element names")
			}
			resp, page = do(t, c, http.MethodPost, w.base+"/", url.Values{"user": {tt.user}, "password": {tt.pass}})
			require.Equal(t, tt.wantStatus, resp.StatusCode, page)
			var cookie *http.Cookie
			for _, ck := range resp.Cookies() {
				if ck.Name == cookieName {
					cookie = ck
				}
			}
			if !tt.wantCookie {
				assert.Nil(t, cookie)
				assert.Contains(t, page, "Wrong user name or password")
				resp, _ = do(t, c, http.MethodGet, w.base+"/chat", nil)
				assert.Equal(t, http.StatusSeeOther, resp.StatusCode, "/chat sends back to the form")
				return
			}
			require.NotNil(t, cookie)
			assert.True(t, cookie.HttpOnly)
			assert.Equal(t, http.SameSiteStrictMode, cookie.SameSite)
			assert.Equal(t, "/chat", resp.Header.Get("Location"))
			resp, page = do(t, c, http.MethodGet, w.base+"/chat", nil)
			require.Equal(t, http.StatusOK, resp.StatusCode)
			for _, s := range []string{`authentication: "prebind"`, `prebind_url: "/prebind"`, `bosh_service_url: "/http-bind"`,
				`"alice@localhost"`, `/assets/converse.min.js`, `/assets/converse.min.css`} {
				assert.Contains(t, page, s)
			}
			assert.NotContains(t, page, tt.pass, "no password in the page")
		})
	}
}

func TestPrebindNeedsLogin(t *testing.T) {
	w := start(t)
	c := browser(t)

	resp, body := do(t, c, http.MethodGet, w.base+"/prebind", nil)
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode, "no cookie: 401")
	assert.JSONEq(t, `{"error":"unauthorized"}`, body)

	resp, _ = do(t, c, http.MethodPost, w.base+"/", url.Values{"user": {"alice"}, "password": {w.accounts["alice"]}})
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	resp, body = do(t, c, http.MethodGet, w.base+"/prebind", nil)
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	assert.Equal(t, "application/json", resp.Header.Get("Content-Type"))
	var s struct {
		JID string `json:"jid"`
		SID string `json:"sid"`
		RID uint64 `json:"rid"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &s))
	assert.True(t, strings.HasPrefix(s.JID, "alice@localhost/"), s.JID)
	assert.NotContains(t, body, w.accounts["alice"])

	// The session is live at /http-bind, same origin, from the returned rid.
	ping := fmt.Sprintf("<body rid='%d' sid='%s' xmlns='http://jabber.org/protocol/httpbind'>"+
		"<iq type='get' id='ping1' xmlns='jabber:client'><ping xmlns='urn:xmpp:ping'/></iq></body>", s.RID, s.SID)
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, w.base+"/http-bind", strings.NewReader(ping))
	require.NoError(t, err)
	r2, err := c.Do(req)
	require.NoError(t, err)
	got, _ := io.ReadAll(r2.Body)
	r2.Body.Close()
	assert.Contains(t, string(got), "id='ping1'")
	assert.Contains(t, string(got), "type='result'")

	// Logout forgets the login: /prebind is 401 again, even with the old
	// cookie sent by hand.
	old := c.Jar.Cookies(mustURL(t, w.base))
	resp, _ = do(t, c, http.MethodPost, w.base+"/logout", nil)
	assert.Equal(t, http.StatusSeeOther, resp.StatusCode)
	resp, _ = do(t, c, http.MethodGet, w.base+"/prebind", nil)
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	c2 := browser(t)
	c2.Jar.SetCookies(mustURL(t, w.base), old)
	resp, _ = do(t, c2, http.MethodGet, w.base+"/prebind", nil)
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode, "the old token is forgotten")
	resp, _ = do(t, c2, http.MethodGet, w.base+"/chat", nil)
	assert.Equal(t, http.StatusSeeOther, resp.StatusCode)
}

func mustURL(t *testing.T, s string) *url.URL {
	u, err := url.Parse(s)
	require.NoError(t, err)
	return u
}

func TestAssets(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "converse.min.js"), []byte("// converse"), 0o600))
	tests := []struct {
		name       string
		assets     string
		wantStatus int
		want       string
	}{
		{name: "served from -assets", assets: dir, wantStatus: http.StatusOK, want: "// converse"},
		{name: "missing: says how to install", assets: filepath.Join(dir, "nope"), wantStatus: http.StatusNotFound, want: "npm ci --prefix examples/webchat"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := start(t, "-assets", tt.assets)
			resp, body := do(t, browser(t), http.MethodGet, w.base+"/assets/converse.min.js", nil)
			assert.Equal(t, tt.wantStatus, resp.StatusCode)
			assert.Contains(t, body, tt.want)
		})
	}
}

func TestUsersFile(t *testing.T) {
	dir := t.TempDir()
	users := filepath.Join(dir, "users")
	require.NoError(t, os.WriteFile(users, []byte("# site accounts\ncarol:pa:ss\n"), 0o600))
	w := start(t, "-users", users, "-domain", "example.com")
	c := browser(t)
	resp, _ := do(t, c, http.MethodPost, w.base+"/", url.Values{"user": {"carol"}, "password": {"pa:ss"}})
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	resp, body := do(t, c, http.MethodGet, w.base+"/prebind", nil)
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	assert.Contains(t, body, `"jid":"carol@example.com/`)
}

func TestParseFlags(t *testing.T) {
	tests := []struct {
		name string
		args []string
		ok   bool
	}{
		{name: "defaults", ok: true},
		{name: "a domain", args: []string{"-domain", "Example.COM"}, ok: true},
		{name: "not a domain", args: []string{"-domain", "a b"}},
		{name: "extra argument", args: []string{"x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := parseFlags(tt.args, io.Discard)
			if !tt.ok {
				assert.Error(t, err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, "127.0.0.1:8080", o.listen)
		})
	}
}
