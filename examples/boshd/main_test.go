package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/httpbind/httpbind/bosh"
	"github.com/httpbind/httpbind/bosh/boshtest"
	"github.com/httpbind/httpbind/internal/syncbuf"
)

// boshd is one run of the program in this process.
type boshd struct {
	url      string            // the printed BOSH endpoint
	base     string            // http://host:port
	accounts map[string]string // printed demo accounts: name → password
	stderr   *syncbuf.Buffer
	cancel   context.CancelFunc
	errc     chan error
}

var (
	urlLine  = regexp.MustCompile(`^boshd: serving BOSH for (\S+) at (https?://[^/\s]+)(/\S*)$`)
	demoLine = regexp.MustCompile(`^boshd: demo account ([^@]+)@\S+ password (\S+)$`)
)

// start runs run with args on 127.0.0.1:0 and reads what it prints up to
// the first line that is not about an account.
func start(t *testing.T, args ...string) *boshd {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	b := &boshd{accounts: make(map[string]string), stderr: &syncbuf.Buffer{}, cancel: cancel, errc: make(chan error, 1)}
	go func() {
		err := run(ctx, append([]string{"-listen", "127.0.0.1:0"}, args...), pw, b.stderr)
		pw.CloseWithError(io.EOF)
		b.errc <- err
	}()
	t.Cleanup(func() {
		cancel()
		<-b.errc
	})
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
			b.base, b.url = m[2], m[2]+m[3]
			continue
		}
		if m := demoLine.FindStringSubmatch(line); m != nil {
			b.accounts[m[1]] = m[2]
			if len(b.accounts) == 2 {
				break
			}
			continue
		}
		if strings.Contains(line, "accounts from") || strings.HasPrefix(line, "boshd: relaying to ") {
			break
		}
	}
	go func() {
		for range lines {
		}
	}()
	require.NotEmpty(t, b.url, "boshd printed no URL; stderr: %s", b.stderr)
	return b
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestDemoAccountsLogIn(t *testing.T) {
	ctx := testContext(t)
	d := start(t)
	require.Contains(t, d.url, "/http-bind")
	require.Len(t, d.accounts, 2)
	require.Contains(t, d.accounts, "alice")
	require.Contains(t, d.accounts, "bob")
	assert.NotEqual(t, d.accounts["alice"], d.accounts["bob"])

	alice := boshtest.NewClient(d.url, boshtest.ClientConfig{})
	defer alice.Close()
	require.NoError(t, alice.Connect(ctx, "localhost"))
	jid, err := alice.Login(ctx, "alice", d.accounts["alice"], "web")
	require.NoError(t, err)
	assert.Equal(t, "alice@localhost/web", jid)

	bob := boshtest.NewClient(d.url, boshtest.ClientConfig{})
	defer bob.Close()
	require.NoError(t, bob.Connect(ctx, "localhost"))
	_, err = bob.Login(ctx, "bob", "wrong", "web")
	assert.ErrorIs(t, err, boshtest.ErrAuth)

	require.NoError(t, alice.Terminate(ctx))
	assert.NotContains(t, d.stderr.String(), d.accounts["alice"], "logs never contain passwords")
}

func TestUsersFile(t *testing.T) {
	ctx := testContext(t)
	file := filepath.Join(t.TempDir(), "users")
	require.NoError(t, os.WriteFile(file, []byte("# test accounts\n\ncarol:pass:with:colons\n  dave:secret  \n"), 0o600))
	d := start(t, "-users", file, "-domain", "chat.example", "-log-level", "debug")
	assert.Empty(t, d.accounts, "no demo accounts with -users")

	c := boshtest.NewClient(d.url, boshtest.ClientConfig{})
	defer c.Close()
	require.NoError(t, c.Connect(ctx, "chat.example"))
	jid, err := c.Login(ctx, "carol", "pass:with:colons", "r")
	require.NoError(t, err)
	assert.Equal(t, "carol@chat.example/r", jid)
	require.NoError(t, c.Terminate(ctx))
	logs := d.stderr.String()
	assert.Contains(t, logs, "level=DEBUG", "-log-level debug")
	assert.NotContains(t, logs, "pass:with:colons", "logs never contain passwords, even at debug")
}

func TestUsersFileErrorNamesLine(t *testing.T) {
	file := filepath.Join(t.TempDir(), "users")
	require.NoError(t, os.WriteFile(file, []byte("ok:1\nnot valid\n"), 0o600))
	err := run(t.Context(), []string{"-listen", "127.0.0.1:0", "-users", file}, io.Discard, io.Discard)
	require.Error(t, err)
	assert.Contains(t, err.Error(), file+":2")

	// A name the core refuses is reported with its line too.
	require.NoError(t, os.WriteFile(file, []byte("ok:1\nbad@name:2\n"), 0o600))
	err = run(t.Context(), []string{"-listen", "127.0.0.1:0", "-users", file}, io.Discard, io.Discard)
	require.Error(t, err)
	assert.Contains(t, err.Error(), file+":2")
}

// TestAllowOriginFlag: -allow-origin is a comma-separated list that
// bosh.Config.AllowOrigins judges (RFC 6454 §6.1 origins, or *); a bad
// one is an error naming the flag.
func TestAllowOriginFlag(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		want  []string
		error bool
	}{
		{name: "empty: no CORS", in: "", want: nil},
		{name: "any origin", in: "*", want: []string{"*"}},
		{name: "list with spaces; bosh normalizes", in: "https://Chat.Example.com, http://localhost:8080/", want: []string{"https://Chat.Example.com", "http://localhost:8080/"}},
		{name: "blank entries skipped", in: "https://a.example,,", want: []string{"https://a.example"}},
		{name: "origins and *", in: "https://a.example,*", want: []string{"https://a.example", "*"}},
		{name: "no scheme", in: "chat.example.com", error: true},
		{name: "path", in: "https://a.example/app", error: true},
		{name: "query", in: "https://a.example?x", error: true},
		{name: "user info", in: "https://u@a.example", error: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := parseFlags([]string{"-allow-origin", tt.in}, io.Discard)
			if tt.error {
				require.Error(t, err)
				assert.Contains(t, err.Error(), "-allow-origin")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, o.origins)
		})
	}
}

func TestAllowOrigin(t *testing.T) {
	d := start(t, "-allow-origin", "https://chat.example.com")
	post := func(origin string) *http.Response {
		req, err := http.NewRequest(http.MethodPost, d.url, strings.NewReader(
			`<body rid='1000' to='localhost' wait='5' hold='1' ver='1.11' xmlns='http://jabber.org/protocol/httpbind'/>`))
		require.NoError(t, err)
		req.Header.Set("Origin", origin)
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res
	}
	res := post("https://chat.example.com")
	assert.Equal(t, http.StatusOK, res.StatusCode)
	assert.Equal(t, "https://chat.example.com", res.Header.Get("Access-Control-Allow-Origin"))
	assert.Equal(t, "true", res.Header.Get("Access-Control-Allow-Credentials"))
	res = post("https://evil.example")
	assert.Equal(t, http.StatusForbidden, res.StatusCode, "an origin not on the list is refused")
	assert.Empty(t, res.Header.Get("Access-Control-Allow-Origin"))
}

func TestFlagErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"-log-level", "loud"}, "-log-level"},
		{[]string{"-path", "http-bind"}, "-path"},
		{[]string{"-allow-origin", "example.com"}, "-allow-origin"},
		{[]string{"-users", "/nonexistent/users"}, "/nonexistent/users"},
		{[]string{"-domain", "bad domain"}, "domain"},
		{[]string{"extra"}, "unexpected arguments"},
		{[]string{"-nosuchflag"}, "nosuchflag"},
		{[]string{"-max-wait", "100000s"}, "-max-wait 27h46m40s: want 1s to 18h12m15s"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			err := run(t.Context(), append([]string{"-listen", "127.0.0.1:0"}, tt.args...), io.Discard, io.Discard)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

// vars fetches /debug/vars.
func vars(t *testing.T, d *boshd) (map[string]json.RawMessage, bosh.Stats) {
	t.Helper()
	return varsWith(t, d, http.DefaultClient)
}

// varsWith fetches /debug/vars with client (over HTTPS: one that trusts
// boshd's certificate).
func varsWith(t *testing.T, d *boshd, client *http.Client) (map[string]json.RawMessage, bosh.Stats) {
	t.Helper()
	res, err := client.Get(d.base + "/debug/vars")
	require.NoError(t, err)
	defer res.Body.Close()
	assert.Equal(t, "application/json; charset=utf-8", res.Header.Get("Content-Type"))
	var all map[string]json.RawMessage
	require.NoError(t, json.NewDecoder(res.Body).Decode(&all))
	var st bosh.Stats
	require.NoError(t, json.Unmarshal(all["bosh"], &st))
	return all, st
}

func TestDebugVars(t *testing.T) {
	ctx := testContext(t)
	// Two runs in one process: nothing is published twice in expvar.
	d := start(t)
	start(t)

	all, st := vars(t, d)
	assert.Contains(t, all, "memstats")
	assert.Contains(t, all, "cmdline")
	assert.Zero(t, st.Sessions)

	c := boshtest.NewClient(d.url, boshtest.ClientConfig{})
	defer c.Close()
	require.NoError(t, c.Connect(ctx, "localhost"))
	_, err := c.Login(ctx, "alice", d.accounts["alice"], "r")
	require.NoError(t, err)
	_, st = vars(t, d)
	assert.Equal(t, int64(1), st.Sessions, "one session open")
	assert.Positive(t, st.Requests)

	require.NoError(t, c.Terminate(ctx))
	_, st = vars(t, d)
	assert.Zero(t, st.Sessions)
	assert.Equal(t, uint64(1), st.Ended["terminate"], "ended by the client (XEP-0124 §13)")
}

// waitHeld waits until boshd holds the client's empty request, as
// /debug/vars shows, so that the shutdown has a held request to answer.
func waitHeld(t *testing.T, d *boshd) {
	t.Helper()
	require.Eventually(t, func() bool {
		_, st := vars(t, d)
		return st.Held == 1
	}, 10*time.Second, 5*time.Millisecond)
}

func TestGracefulShutdown(t *testing.T) {
	ctx := testContext(t)
	d := start(t)
	c := boshtest.NewClient(d.url, boshtest.ClientConfig{})
	defer c.Close()
	require.NoError(t, c.Connect(ctx, "localhost"))
	_, err := c.Login(ctx, "bob", d.accounts["bob"], "r")
	require.NoError(t, err)
	waitHeld(t, d)

	d.cancel()
	// The held request is answered with system-shutdown (XEP-0124 §17.2)
	// instead of waiting for 'wait', and run returns without error.
	_, err = c.Receive(ctx)
	assert.ErrorIs(t, err, bosh.SystemShutdown)
	select {
	case err := <-d.errc:
		assert.NoError(t, err)
		d.errc <- err // for the cleanup
	case <-ctx.Done():
		t.Fatal("run did not return")
	}
}

// SIGTERM drains; a node alone, by default for no time: its sessions end
// at once.
func TestShutdownOnSIGTERM(t *testing.T) {
	ctx := testContext(t)
	d := start(t)
	c := boshtest.NewClient(d.url, boshtest.ClientConfig{})
	defer c.Close()
	require.NoError(t, c.Connect(ctx, "localhost"))
	waitHeld(t, d)

	require.NoError(t, syscall.Kill(os.Getpid(), syscall.SIGTERM))
	_, err := c.Receive(ctx)
	for err == nil { // the stream features of the creation response come first
		_, err = c.Receive(ctx)
	}
	assert.ErrorIs(t, err, bosh.SystemShutdown)
	select {
	case err := <-d.errc:
		assert.NoError(t, err)
		d.errc <- err
	case <-ctx.Done():
		t.Fatal("run did not return on SIGTERM")
	}
	assert.Contains(t, d.stderr.String(), "shutting down")
}

// With -park (the default) a held request (XEP-0124 §8) is parked without
// a goroutine (bosh.ParkListener); with -park=false it waits on its
// goroutine, as net/http serves it.
func TestParkFlag(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		parked int64
	}{
		{name: "default", parked: 1},
		{name: "-park=false", args: []string{"-park=false"}, parked: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := testContext(t)
			d := start(t, tt.args...)
			c := boshtest.NewClient(d.url, boshtest.ClientConfig{})
			defer c.Close()
			require.NoError(t, c.Connect(ctx, "localhost"))
			_, err := c.Login(ctx, "bob", d.accounts["bob"], "r")
			require.NoError(t, err)
			waitHeld(t, d)
			require.Eventually(t, func() bool {
				_, st := vars(t, d)
				return st.Parked == tt.parked
			}, 10*time.Second, 5*time.Millisecond)
			require.NoError(t, c.Terminate(ctx))
		})
	}
}
