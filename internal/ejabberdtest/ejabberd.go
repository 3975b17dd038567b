package ejabberdtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/httpbind/httpbind/internal/proc"
)

// Timeouts of the harness: hang guards, not expectations.
const (
	startTimeout = 60 * time.Second // until ejabberd says it started and its ports listen
	stopTimeout  = 15 * time.Second // after SIGTERM, before SIGKILL
	startTries   = 3                // attempts with fresh ports
	apiTimeout   = 15 * time.Second // one mod_http_api request
)

// Config configures Start. The zero Config serves "localhost".
type Config struct {
	// Domain is the virtual host ejabberd serves. Default "localhost".
	Domain string
	// YAML holds top-level lines added to the configuration, for example
	// "c2s_ciphers: ...". They must not repeat a key Start writes (hosts,
	// loglevel, listen, api_permissions, auth_method,
	// auth_password_format, disable_sasl_mechanisms, modules).
	YAML []string
	// Modules are more modules to enable with their default options, for
	// example "mod_legacy_auth" (XEP-0078).
	Modules []string
}

// Server is a running ejabberd. Its fields are set by Start and then
// read-only; its methods are safe for concurrent use.
type Server struct {
	// Domain is the virtual host served.
	Domain string
	// C2SAddr is the client port (RFC 6120), without STARTTLS, as
	// 127.0.0.1:port.
	C2SAddr string
	// APIURL is the base URL of mod_http_api, open to loopback for
	// registering accounts.
	APIURL string
	// Dir is the server's directory: configuration, spool, log.
	Dir string
	// LogFile is ejabberd's log.
	LogFile string

	t testing.TB
	p *proc.Process // set by run
}

// Start runs ejabberd for the test and stops it when the test ends (see
// Lookup for a machine without ejabberd). It returns once ejabberd has
// started and its ports listen. A failed test prints the tail of its log.
func Start(t testing.TB, cfg Config) *Server {
	t.Helper()
	erl, libs := Lookup(t)
	if cfg.Domain == "" {
		cfg.Domain = "localhost"
	}
	var s *Server
	err := proc.Retry(startTries, func() (bool, error) {
		s = &Server{Domain: cfg.Domain, Dir: t.TempDir(), t: t}
		if err := s.writeConfig(cfg); err != nil {
			return false, err
		}
		return s.run(erl, libs)
	})
	if err != nil {
		t.Fatalf("ejabberdtest: ejabberd did not start: %s", err)
	}
	proc.Cleanup(t, "ejabberdtest", s.LogFile, s.Stop)
	return s
}

// writeConfig writes ejabberd.yml into s.Dir, on fresh loopback ports.
func (s *Server) writeConfig(cfg Config) error {
	ports, err := proc.FreePorts(2)
	if err != nil {
		return err
	}
	s.C2SAddr = "127.0.0.1:" + strconv.Itoa(ports[0])
	s.APIURL = "http://127.0.0.1:" + strconv.Itoa(ports[1]) + "/api"
	s.LogFile = filepath.Join(s.Dir, "logs", "ejabberd.log")
	for _, d := range []string{"spool", "logs"} {
		if err := os.MkdirAll(filepath.Join(s.Dir, d), 0o700); err != nil {
			return err
		}
	}
	return os.WriteFile(filepath.Join(s.Dir, "ejabberd.yml"), []byte(configText(cfg, ports)), 0o600)
}

// configText is the YAML configuration: a client port without TLS, the
// HTTP API for registration from loopback, plain stored passwords and no
// SASL mechanism disabled (the defaults of ejabberd 23.01, written out:
// DIGEST-MD5 needs both).
func configText(cfg Config, ports []int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "hosts: [%s]\nloglevel: info\nlog_rotate_count: 0\n", strconv.Quote(cfg.Domain))
	fmt.Fprintf(&b, "listen:\n")
	fmt.Fprintf(&b, "  - port: %d\n    ip: \"127.0.0.1\"\n    module: ejabberd_c2s\n    starttls: false\n", ports[0])
	fmt.Fprintf(&b, "  - port: %d\n    ip: \"127.0.0.1\"\n    module: ejabberd_http\n    request_handlers:\n      /api: mod_http_api\n", ports[1])
	b.WriteString(`api_permissions:
  "loopback register":
    from: [mod_http_api]
    who:
      ip: 127.0.0.1/8
    what: [register]
auth_method: internal
auth_password_format: plain
disable_sasl_mechanisms: []
modules:
  mod_http_api: {}
  mod_roster: {}
  mod_disco: {}
  mod_ping: {}
`)
	for _, m := range cfg.Modules {
		fmt.Fprintf(&b, "  %s: {}\n", m)
	}
	for _, l := range cfg.YAML {
		b.WriteString(l + "\n")
	}
	return b.String()
}

// run starts the node and waits until ejabberd logs that it started and
// its client port accepts connections. retry is set when a port was taken
// meanwhile.
func (s *Server) run(erl, libs string) (retry bool, err error) {
	cmd := exec.Command(erl, "-noinput", "-noshell", "+K", "true",
		"-mnesia", "dir", strconv.Quote(filepath.Join(s.Dir, "spool")), "-s", "ejabberd")
	cmd.Dir = s.Dir
	cmd.Env = append(os.Environ(),
		"HOME="+s.Dir,
		"ERL_LIBS="+libs,
		"EJABBERD_CONFIG_PATH="+filepath.Join(s.Dir, "ejabberd.yml"),
		"EJABBERD_LOG_PATH="+s.LogFile,
		"ERL_CRASH_DUMP_BYTES=0",
	)
	cmd.SysProcAttr = sysProcAttr()
	s.p, retry, err = proc.Start(cmd, proc.Launch{
		Name:        "ejabberd",
		Out:         filepath.Join(s.Dir, "ejabberd.out"),
		Log:         s.LogFile,
		Poll:        50 * time.Millisecond,
		Timeout:     startTimeout,
		StopTimeout: stopTimeout,
		Taken:       "eaddrinuse",
		Ready: func(log []byte) bool {
			return bytes.Contains(log, []byte(" is started in the node ")) && listens(s.C2SAddr)
		},
	})
	return retry, err
}

// listens reports whether addr accepts a TCP connection.
func listens(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// Register creates the account user@Domain with password through
// mod_http_api; the test fails if ejabberd refuses.
func (s *Server) Register(user, password string) {
	s.t.Helper()
	body, _ := json.Marshal(map[string]string{"user": user, "host": s.Domain, "password": password})
	c := &http.Client{Timeout: apiTimeout}
	res, err := c.Post(s.APIURL+"/register", "application/json", bytes.NewReader(body))
	if err != nil {
		s.t.Fatalf("ejabberdtest: register %s: %v", user, err)
	}
	defer res.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(res.Body, 4096))
	if res.StatusCode != http.StatusOK {
		s.t.Fatalf("ejabberdtest: register %s: HTTP %d %s", user, res.StatusCode, msg)
	}
}

// Stop stops ejabberd gracefully (SIGTERM: the node runs init:stop), and
// kills it if it has not exited within a bound. It waits for the process
// and is idempotent; Start registers it with t.Cleanup.
func (s *Server) Stop() { s.p.Stop() }

// Kill kills ejabberd at once (SIGKILL), as a crash would. It waits for
// the process and is idempotent.
func (s *Server) Kill() { s.p.Kill() }
