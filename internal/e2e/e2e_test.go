package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/httpbind/httpbind/internal/prosodytest"
)

// Bounds of one scenario run: the node script's own limit and the margin
// the Go side adds before it kills the script.
const (
	scenarioTimeout = 90 * time.Second
	stepTimeout     = 20 * time.Second
	killMargin      = 30 * time.Second
)

// user is an XMPP account of a scenario.
type user struct {
	JID      string `json:"jid"`
	Password string `json:"password"`
}

// config is what js/run.mjs reads from the E2E environment variable.
type config struct {
	Chromium      string          `json:"chromium"`
	PageOrigin    string          `json:"pageOrigin"` // where pages/ is served
	BOSH          string          `json:"bosh"`       // the BOSH endpoint, another origin
	BOSHPaths     []string        `json:"boshPaths"`  // URL paths whose traffic is recorded
	Users         map[string]user `json:"users"`
	Artifacts     string          `json:"artifacts"`
	TimeoutMs     int64           `json:"timeoutMs"`
	StepTimeoutMs int64           `json:"stepTimeoutMs"`
	Verbose       bool            `json:"verbose"`
	Extra         map[string]any  `json:"extra,omitempty"`

	pages *http.ServeMux // the page server's routes, for a scenario's own
}

// requireBrowser returns the Chromium executable, after checking that node
// and the npm packages are there. Without them the test skips, or fails
// under CI.
func requireBrowser(t *testing.T) string {
	t.Helper()
	missing := func(format string, args ...any) {
		t.Helper()
		msg := fmt.Sprintf(format, args...) + "; run make e2e-deps"
		if prosodytest.InCI() {
			t.Fatal("e2e: " + msg + " (CI=true requires it)")
		}
		t.Skip("e2e: " + msg + "; skipped outside CI")
	}
	chromium := os.Getenv("CHROMIUM")
	if chromium == "" {
		for _, name := range []string{"chromium", "chromium-browser"} {
			if p, err := exec.LookPath(name); err == nil {
				chromium = p
				break
			}
		}
	}
	if chromium == "" {
		missing("Debian's chromium is not installed")
	}
	if _, err := exec.LookPath("node"); err != nil {
		missing("node is not installed")
	}
	for _, pkg := range []string{"playwright-core", "strophe.js", "converse.js"} {
		if _, err := os.Stat(filepath.Join("node_modules", pkg, "package.json")); err != nil {
			missing("the npm package %s is not installed in internal/e2e", pkg)
		}
	}
	return chromium
}

// newConfig returns a scenario configuration with the pages served on
// their own origin (127.0.0.2, while BOSH is on 127.0.0.1) and users for
// domain with fresh passwords.
func newConfig(t *testing.T, domain string, names ...string) *config {
	t.Helper()
	cfg := &config{
		Chromium:      requireBrowser(t),
		pages:         http.NewServeMux(),
		BOSHPaths:     []string{"/http-bind"},
		Users:         make(map[string]user),
		Artifacts:     artifactsDir(t),
		TimeoutMs:     scenarioTimeout.Milliseconds(),
		StepTimeoutMs: stepTimeout.Milliseconds(),
		Verbose:       testing.Verbose(),
	}
	cfg.PageOrigin = servePages(t, "127.0.0.2", cfg.pages)
	for _, n := range names {
		cfg.Users[n] = user{JID: n + "@" + domain, Password: strings.ToLower(rand.Text())[:12]}
	}
	return cfg
}

// artifactsDir is where scenarios keep screenshots.
func artifactsDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("E2E_ARTIFACTS")
	if dir == "" {
		dir, _ = filepath.Abs("artifacts")
	}
	require.NoError(t, os.MkdirAll(dir, 0o755))
	return dir
}

// servePages serves pages/ and the npm packages the pages load, under
// /vendor/, on host (the scenarios use 127.0.0.2 and 127.0.0.3: other
// origins than boshd's 127.0.0.1; all are loopback and secure contexts, so
// SCRAM's WebCrypto works). It returns the origin.
func servePages(t *testing.T, host string, mux *http.ServeMux) string {
	t.Helper()
	mux.Handle("/", http.FileServer(http.Dir("pages")))
	for _, pkg := range []string{"strophe.js", "converse.js"} {
		prefix := "/vendor/" + pkg + "/"
		mux.Handle(prefix, http.StripPrefix(prefix, http.FileServer(http.Dir(filepath.Join("node_modules", pkg)))))
	}
	return serve(t, host+":0", mux)
}

// serve serves h on addr until the test ends and returns its origin.
func serve(t *testing.T, addr string, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	require.NoError(t, err, "e2e: listen on %s (loopback is 127.0.0.0/8 on Linux)", addr)
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	return "http://" + ln.Addr().String()
}

// runScenario runs js/run.mjs name with cfg and decodes its result into
// out. A failing run fails the test with the script's output: the error,
// the pages' console and the BOSH traffic.
func runScenario(t *testing.T, name string, cfg *config, out any) {
	t.Helper()
	env, err := json.Marshal(cfg)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), scenarioTimeout+killMargin)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", filepath.Join("js", "run.mjs"), name)
	cmd.Env = append(os.Environ(), "E2E="+string(env))
	cmd.WaitDelay = 5 * time.Second
	output, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("e2e: scenario %s failed (%v):\n%s", name, err, output)
	}
	if cfg.Verbose {
		t.Logf("scenario %s:\n%s", name, output)
	}
	for line := range bytes.Lines(output) {
		if rest, ok := bytes.CutPrefix(line, []byte("RESULT ")); ok {
			require.NoError(t, json.Unmarshal(rest, out), "scenario %s: result %s", name, rest)
			return
		}
	}
	t.Fatalf("e2e: scenario %s printed no result:\n%s", name, output)
}

var (
	buildMu  sync.Mutex
	buildDir string
	built    = map[string]error{} // guarded by buildMu
)

// program builds examples/<name> once per test binary and returns the
// executable's path.
func program(t *testing.T, name string) string {
	t.Helper()
	buildMu.Lock()
	defer buildMu.Unlock()
	if buildDir == "" {
		dir, err := os.MkdirTemp("", "httpbind-e2e-")
		require.NoError(t, err)
		buildDir = dir
	}
	path := filepath.Join(buildDir, name)
	err, ok := built[name]
	if !ok {
		out, cerr := exec.Command("go", "build", "-o", path, "../../examples/"+name).CombinedOutput()
		if cerr != nil {
			err = fmt.Errorf("go build examples/%s: %v\n%s", name, cerr, out)
		}
		built[name] = err
	}
	require.NoError(t, err)
	return path
}

func TestMain(m *testing.M) {
	if os.Getenv("E2E_RSS_HELPER") == "1" {
		runawayHelper() // TestRSSGuardKillsARunaway's child
	}
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// process is a running example program.
type process struct {
	cmd    *exec.Cmd
	stdout *bufio.Scanner
	done   chan struct{}
	mu     sync.Mutex
	log    bytes.Buffer // what it printed; guarded by mu
}

// start runs the example program name with args until the test ends and
// returns once it printed a line with prefix, with the rest of that line.
// A failed test prints what the program logged.
func start(t *testing.T, name, prefix string, args ...string) (*process, string) {
	t.Helper()
	p := &process{cmd: exec.Command(program(t, name), args...), done: make(chan struct{})}
	stdout, err := p.cmd.StdoutPipe()
	require.NoError(t, err)
	p.cmd.Stderr = &lockedWriter{p}
	require.NoError(t, p.cmd.Start())
	lines := make(chan string, 64)
	go func() {
		defer close(p.done)
		s := bufio.NewScanner(stdout)
		for s.Scan() {
			p.write([]byte(s.Text() + "\n"))
			select {
			case lines <- s.Text():
			default:
			}
		}
		p.cmd.Wait()
	}()
	t.Cleanup(func() {
		p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(15 * time.Second):
			p.cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("%s printed:\n%s", name, p.output())
		}
	})
	timeout := time.After(30 * time.Second)
	for {
		select {
		case l := <-lines:
			if rest, ok := strings.CutPrefix(l, prefix); ok {
				return p, rest
			}
		case <-p.done:
			t.Fatalf("e2e: %s exited:\n%s", name, p.output())
		case <-timeout:
			t.Fatalf("e2e: %s did not print %q:\n%s", name, prefix, p.output())
		}
	}
}

func (p *process) write(b []byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.log.Write(b)
}

func (p *process) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.log.String()
}

// lockedWriter appends a process's stderr to its log.
type lockedWriter struct{ p *process }

func (w *lockedWriter) Write(b []byte) (int, error) {
	w.p.write(b)
	return len(b), nil
}

// writeUsers writes cfg's users as a boshd -users file.
func writeUsers(t *testing.T, cfg *config) string {
	t.Helper()
	accounts := make(map[string]string)
	for _, u := range cfg.Users {
		local, _, _ := strings.Cut(u.JID, "@")
		accounts[local] = u.Password
	}
	return writeAccounts(t, accounts)
}

// writeAccounts writes an account file (name:password lines, as the
// programs' -users reads) and returns its path.
func writeAccounts(t *testing.T, accounts map[string]string) string {
	t.Helper()
	var b strings.Builder
	for name, password := range accounts {
		fmt.Fprintf(&b, "%s:%s\n", name, password)
	}
	path := filepath.Join(t.TempDir(), "users")
	require.NoError(t, os.WriteFile(path, []byte(b.String()), 0o600))
	return path
}

// startBoshd runs boshd for cfg with the in-memory core and cfg's users,
// allowing the page origin (CORS), and sets cfg.BOSH. It returns the base
// URL (for /debug/vars).
func startBoshd(t *testing.T, cfg *config, extra ...string) string {
	t.Helper()
	args := append([]string{"-listen", "127.0.0.1:0", "-users", writeUsers(t, cfg),
		"-allow-origin", cfg.PageOrigin}, extra...)
	return boshd(t, cfg, args...)
}

// boshd starts boshd with args and sets cfg.BOSH.
func boshd(t *testing.T, cfg *config, args ...string) string {
	t.Helper()
	_, rest := start(t, "boshd", "boshd: serving BOSH for ", args...)
	_, url, ok := strings.Cut(rest, " at ")
	require.True(t, ok, "boshd printed %q", rest)
	cfg.BOSH = url
	return strings.TrimSuffix(url, "/http-bind")
}

// stats is the part of boshd's /debug/vars the tests read.
type stats struct {
	Sessions int64             `json:"Sessions"`
	Ended    map[string]uint64 `json:"Ended"`
}

// boshStats reads boshd's session counters.
func boshStats(t *testing.T, base string) stats {
	t.Helper()
	resp, err := http.Get(base + "/debug/vars")
	require.NoError(t, err)
	defer resp.Body.Close()
	var v struct {
		BOSH stats `json:"bosh"`
	}
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(body, &v), "%s", body)
	return v.BOSH
}

// hostPrebind is the page server's /prebind, standing for a host
// application's backend in front of boshd -prebind: its "authentication"
// is the user query parameter, and it asks boshd's endpoint for a session
// with that user's XMPP credentials (HTTP Basic, server to server), so the
// password never reaches the page.
func hostPrebind(cfg *config, endpoint *atomic.Pointer[string]) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, ok := cfg.Users[r.URL.Query().Get("user")]
		if !ok {
			http.Error(w, "unknown user", http.StatusUnauthorized)
			return
		}
		req, err := http.NewRequestWithContext(r.Context(), http.MethodPost, *endpoint.Load(), nil)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		req.SetBasicAuth(u.JID, u.Password)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(resp.StatusCode)
		io.Copy(w, resp.Body)
	})
}

// startRelay runs a Prosody with cfg's users and boshd relaying to it
// (-upstream, XEP-0206 over the TCP upstream), allowing the page origin,
// and sets cfg.BOSH. It returns boshd's base URL.
func startRelay(t *testing.T, cfg *config, extra ...string) string {
	t.Helper()
	p := prosodytest.Start(t, prosodytest.Config{})
	for _, u := range cfg.Users {
		local, _, _ := strings.Cut(u.JID, "@")
		p.Register(local, u.Password)
	}
	return boshd(t, cfg, append([]string{"-listen", "127.0.0.1:0", "-domain", p.Domain,
		"-upstream", "tcp://" + p.C2SAddr, "-upstream-ca", p.CAFile, "-allow-origin", cfg.PageOrigin}, extra...)...)
}
