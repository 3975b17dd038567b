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

// Config configures Start. The zero Config serves "localhost".
type Config struct {
	// Domain is the virtual host Prosody serves. Default "localhost".
	Domain string
	// Lua holds lines added to the global section of the configuration,
	// for example `c2s_require_encryption = false`. Later lines win.
	Lua []string
	// TLSTickets lets clients resume their TLS sessions with tickets
	// (RFC 8446 §2.2), which Prosody's default TLS options refuse, as
	// internal/cmd/boshload/compare.sh configures it.
	TLSTickets bool
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
	p       *proc.Process // set by run
}

// Start runs Prosody for the test and stops it when the test ends (see
// Lookup for a machine without Prosody). It returns once every port
// listens. A failed test prints the tail of Prosody's log.
func Start(t testing.TB, cfg Config) *Server {
	t.Helper()
	bin := Lookup(t)
	if cfg.Domain == "" {
		cfg.Domain = "localhost"
	}
	crt, err := certsFor(cfg.Domain)
	if err != nil {
		t.Fatal(err)
	}
	var s *Server
	err = proc.Retry(startTries, func() (bool, error) {
		s = &Server{Domain: cfg.Domain, Dir: t.TempDir(), t: t}
		if err := s.writeFiles(crt, cfg); err != nil {
			return false, err
		}
		return s.run(bin)
	})
	if err != nil {
		t.Fatalf("prosodytest: Prosody did not start: %s", err)
	}
	proc.Cleanup(t, "prosodytest", s.LogFile, s.Stop)
	return s
}

// writeFiles writes the certificates and the configuration into s.Dir,
// on fresh loopback ports.
func (s *Server) writeFiles(crt *certs, cfg Config) error {
	ports, err := proc.FreePorts(3)
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
func (s *Server) configText(certDir string, ports []int, cfg Config) string {
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
	tickets := ""
	if cfg.TLSTickets {
		tickets = ", options = { no_ticket = false }"
	}
	fmt.Fprintf(&b, "ssl = { key = %s, certificate = %s%s }\n",
		q(filepath.Join(certDir, "server.key")), q(filepath.Join(certDir, "server.crt")), tickets)
	for _, l := range cfg.Lua {
		b.WriteString(l + "\n")
	}
	fmt.Fprintf(&b, "VirtualHost %s\n", q(s.Domain))
	return b.String()
}

// run starts the process and waits until its log says that every port
// listens. retry is set when a port was taken meanwhile.
func (s *Server) run(bin string) (retry bool, err error) {
	cmd := exec.Command(bin, "--config", filepath.Join(s.Dir, "prosody.cfg.lua"), "-F")
	cmd.Dir = s.Dir
	cmd.SysProcAttr = sysProcAttr()
	want := []string{
		"Activated service 'c2s' on [127.0.0.1]:" + port(s.C2SAddr),
		"Activated service 'c2s_direct_tls' on [127.0.0.1]:" + port(s.C2STLSAddr),
		"Serving 'bosh' at " + s.BOSHURL,
	}
	s.p, retry, err = proc.Start(cmd, proc.Launch{
		Name:        "prosody",
		Out:         filepath.Join(s.Dir, "prosody.out"),
		Log:         s.LogFile,
		Poll:        20 * time.Millisecond,
		Timeout:     startTimeout,
		StopTimeout: stopTimeout,
		Taken:       "Failed to open server port",
		Ready:       func(log []byte) bool { return containsAll(log, want) },
	})
	return retry, err
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
func (s *Server) Stop() { s.p.Stop() }

// Kill kills Prosody at once (SIGKILL), as a crash would: its connections
// are reset by the kernel without a closing stream. It waits for the
// process and is idempotent.
func (s *Server) Kill() { s.p.Kill() }
