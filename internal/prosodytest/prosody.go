package prosodytest

import (
	"bytes"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/httpbind/httpbind/internal/proc"
)

// Timeouts of the harness: hang guards, not expectations.
const (
	startTimeout = 20 * time.Second // until Prosody listens on every port
	stopTimeout  = 10 * time.Second // after SIGTERM, before SIGKILL
	startTries   = 3                // attempts with fresh ports
)

// An Option configures Start.
type Option func(*config)

type config struct {
	domain string
	extra  []string
}

// WithDomain sets the virtual host Prosody serves. Default "localhost".
func WithDomain(domain string) Option { return func(c *config) { c.domain = domain } }

// WithConfig adds lines of Lua to the global section of the configuration,
// for example `c2s_require_encryption = false`. Later lines win.
func WithConfig(lines ...string) Option {
	return func(c *config) { c.extra = append(c.extra, lines...) }
}

// Server is a running Prosody. Its fields are set by Start and then
// read-only; its methods are safe for concurrent use.
type Server struct {
	// Domain is the virtual host served.
	Domain string
	// C2SAddr is the client port, with STARTTLS (RFC 6120 §5), as
	// 127.0.0.1:port.
	C2SAddr string
	// C2STLSAddr is the client port with TLS from the first byte.
	C2STLSAddr string
	// BOSHURL is Prosody's own mod_bosh endpoint (XEP-0206).
	BOSHURL string
	// CAFile is the PEM file of the CA that issued the server's
	// certificate; CAPool holds the same CA.
	CAFile string
	CAPool *x509.CertPool
	// Dir is the server's directory: configuration, data, log.
	Dir string
	// LogFile is Prosody's log.
	LogFile string

	t       testing.TB
	dataDir string
	cmd     *exec.Cmd
	done    chan struct{} // closed when the process has exited
	stop    sync.Once
}

// Start runs Prosody for the test and stops it when the test ends (see
// Lookup for a machine without Prosody). It returns once every port
// listens. A failed test prints the tail of Prosody's log.
func Start(t testing.TB, opts ...Option) *Server {
	t.Helper()
	bin := Lookup(t)
	cfg := config{domain: "localhost"}
	for _, o := range opts {
		o(&cfg)
	}
	crt, err := certsFor(cfg.domain)
	if err != nil {
		t.Fatal(err)
	}
	var s *Server
	err = proc.Retry(startTries, func() (bool, error) {
		s = &Server{Domain: cfg.domain, Dir: t.TempDir(), t: t}
		if err := s.writeFiles(crt, cfg); err != nil {
			t.Fatal(err)
		}
		retry, err := s.run(bin)
		if err != nil {
			return retry, fmt.Errorf("%w\n%s", err, s.logTail(40))
		}
		return false, nil
	})
	if err != nil {
		t.Fatalf("prosodytest: Prosody did not start: %s", err)
	}
	t.Cleanup(func() {
		s.Stop()
		if t.Failed() {
			t.Logf("prosodytest: tail of %s:\n%s", s.LogFile, s.logTail(40))
		}
	})
	return s
}

// writeFiles writes the certificates and the configuration into s.Dir,
// on fresh loopback ports.
func (s *Server) writeFiles(crt *certs, cfg config) error {
	ports, err := freePorts(3)
	if err != nil {
		return err
	}
	s.C2SAddr = "127.0.0.1:" + strconv.Itoa(ports[0])
	s.C2STLSAddr = "127.0.0.1:" + strconv.Itoa(ports[1])
	s.BOSHURL = "http://127.0.0.1:" + strconv.Itoa(ports[2]) + "/http-bind"
	s.dataDir = filepath.Join(s.Dir, "data")
	s.LogFile = filepath.Join(s.Dir, "prosody.log")
	s.CAFile = filepath.Join(s.Dir, "ca.pem")
	certDir := filepath.Join(s.Dir, "certs")
	for _, d := range []string{s.dataDir, certDir} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return err
		}
	}
	files := map[string][]byte{
		s.CAFile:                             crt.caPEM,
		filepath.Join(certDir, "server.crt"): crt.certPEM,
		filepath.Join(certDir, "server.key"): crt.keyPEM,
	}
	for name, data := range files {
		if err := os.WriteFile(name, data, 0o600); err != nil {
			return err
		}
	}
	s.CAPool = x509.NewCertPool()
	s.CAPool.AppendCertsFromPEM(crt.caPEM)
	conf := s.configText(certDir, ports, cfg)
	return os.WriteFile(filepath.Join(s.Dir, "prosody.cfg.lua"), []byte(conf), 0o600)
}

// configText is the Lua configuration. run_as_root lets Prosody run as
// root (CI) without switching to the prosody user, who could not read the
// temporary directory; s2s and offline storage are off.
func (s *Server) configText(certDir string, ports []int, cfg config) string {
	q := luaQuote
	var b strings.Builder
	fmt.Fprintf(&b, "run_as_root = true\n")
	fmt.Fprintf(&b, "pidfile = %s\n", q(filepath.Join(s.Dir, "prosody.pid")))
	fmt.Fprintf(&b, "data_path = %s\n", q(s.dataDir))
	fmt.Fprintf(&b, "certificates = %s\n", q(certDir))
	fmt.Fprintf(&b, "log = { { levels = { min = \"info\" }, to = \"file\", filename = %s } }\n", q(s.LogFile))
	fmt.Fprintf(&b, "interfaces = { \"127.0.0.1\" }\nlocal_interfaces = { \"127.0.0.1\" }\nhttp_interfaces = { \"127.0.0.1\" }\n")
	fmt.Fprintf(&b, "c2s_ports = { %d }\nc2s_direct_tls_ports = { %d }\nhttp_ports = { %d }\n", ports[0], ports[1], ports[2])
	fmt.Fprintf(&b, "https_ports = { }\nlegacy_ssl_ports = { }\ns2s_ports = { }\n")
	fmt.Fprintf(&b, "modules_enabled = { \"roster\", \"saslauth\", \"tls\", \"disco\", \"ping\", \"bosh\", \"posix\" }\n")
	fmt.Fprintf(&b, "modules_disabled = { \"s2s\", \"offline\" }\n")
	fmt.Fprintf(&b, "authentication = \"internal_hashed\"\nstorage = \"internal\"\n")
	fmt.Fprintf(&b, "c2s_require_encryption = true\n")
	// Loopback HTTP: let Prosody's own BOSH offer PLAIN like its TLS port.
	fmt.Fprintf(&b, "consider_bosh_secure = true\n")
	fmt.Fprintf(&b, "ssl = { key = %s, certificate = %s }\n",
		q(filepath.Join(certDir, "server.key")), q(filepath.Join(certDir, "server.crt")))
	for _, l := range cfg.extra {
		b.WriteString(l + "\n")
	}
	fmt.Fprintf(&b, "VirtualHost %s\n", q(s.Domain))
	return b.String()
}

// freePorts returns n distinct loopback ports that were free a moment ago.
func freePorts(n int) ([]int, error) {
	var ports []int
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		defer ln.Close()
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// run starts the process and waits until its log says that every port
// listens. retry is set when a port was taken meanwhile.
func (s *Server) run(bin string) (retry bool, err error) {
	out, err := os.Create(filepath.Join(s.Dir, "prosody.out"))
	if err != nil {
		return false, err
	}
	defer out.Close()
	s.cmd = exec.Command(bin, "--config", filepath.Join(s.Dir, "prosody.cfg.lua"), "-F")
	s.cmd.Dir = s.Dir
	s.cmd.Stdout, s.cmd.Stderr = out, out
	s.cmd.SysProcAttr = sysProcAttr()
	if err := s.cmd.Start(); err != nil {
		return false, err
	}
	s.done = make(chan struct{})
	go func() {
		s.cmd.Wait()
		close(s.done)
	}()
	want := []string{
		"Activated service 'c2s' on [127.0.0.1]:" + port(s.C2SAddr),
		"Activated service 'c2s_direct_tls' on [127.0.0.1]:" + port(s.C2STLSAddr),
		"Serving 'bosh' at " + s.BOSHURL,
	}
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(startTimeout)
	for {
		log, _ := os.ReadFile(s.LogFile)
		switch {
		case bytes.Contains(log, []byte("Failed to open server port")):
			s.Kill()
			return true, fmt.Errorf("a port was taken")
		case containsAll(log, want):
			return false, nil
		}
		select {
		case <-s.done:
			out, _ := os.ReadFile(filepath.Join(s.Dir, "prosody.out"))
			return false, fmt.Errorf("prosody exited: %s; output: %s", s.cmd.ProcessState, out)
		case <-deadline:
			s.Kill()
			return false, fmt.Errorf("not listening after %v", startTimeout)
		case <-tick.C:
		}
	}
}

// luaQuote quotes s as a Lua string literal; Lua strings are bytes.
func luaQuote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`, "\r", `\r`, "\x00", `\0`)
	return `"` + r.Replace(s) + `"`
}

func containsAll(b []byte, subs []string) bool {
	for _, s := range subs {
		if !bytes.Contains(b, []byte(s)) {
			return false
		}
	}
	return true
}

func port(addr string) string {
	_, p, _ := net.SplitHostPort(addr)
	return p
}

// Stop stops Prosody gracefully (SIGTERM), and kills it if it has not
// exited within a bound. It waits for the process and is idempotent;
// Start registers it with t.Cleanup.
func (s *Server) Stop() { s.end(syscall.SIGTERM) }

// Kill kills Prosody at once (SIGKILL), as a crash would: its connections
// are reset by the kernel without a closing stream. It waits for the
// process and is idempotent.
func (s *Server) Kill() { s.end(syscall.SIGKILL) }

func (s *Server) end(sig syscall.Signal) {
	s.stop.Do(func() { proc.End(s.cmd, s.done, sig, stopTimeout) })
}

// logTail returns the last n lines of the server's log.
func (s *Server) logTail(n int) string { return proc.Tail(s.LogFile, n) }
