package proxytest

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/httpbind/httpbind/internal/syncbuf"
)

// Bounds of the harness: hang guards, not expectations.
const (
	startTimeout = 15 * time.Second // until the proxy accepts connections
	stopTimeout  = 10 * time.Second // after the polite signal, before SIGKILL
)

// Proxy is a running proxy process. Its fields are set when it starts and
// then read-only.
type Proxy struct {
	// Addr is where the proxy listens, 127.0.0.1:port.
	Addr string
	// Dir is its directory: configuration, logs, temporary files.
	Dir string
	// Config is the configuration it runs with, as written.
	Config string

	name    string
	cmd     *exec.Cmd
	done    chan struct{}   // closed when the process has exited
	out     *syncbuf.Buffer // what the process wrote to stdout and stderr
	logFile string          // a log file besides out, "" for none
}

// InCI reports whether the environment variable CI is true.
func InCI() bool {
	ci, _ := strconv.ParseBool(os.Getenv("CI"))
	return ci
}

// lookup returns the path of the executable name, searched in PATH and
// then in /usr/sbin (where Debian installs both proxies, and which is not
// in every user's PATH). When it is missing the test is skipped, or fails
// under CI.
func lookup(t testing.TB, name string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	if p := filepath.Join("/usr/sbin", name); isExecutable(p) {
		return p
	}
	if InCI() {
		t.Fatalf("proxytest: %s is not installed; CI=true requires it: run make deps", name)
	}
	t.Skipf("proxytest: %s is not installed; skipped outside CI (make deps installs it)", name)
	return ""
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

// FreeAddr returns a loopback address with a port that was free a moment
// ago, for a process that cannot be handed a listener.
func FreeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("proxytest: %v", err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// start runs bin with args as p's process in its own process group, and
// returns once p.Addr accepts TCP connections. The process is stopped
// with stopSignal, and SIGKILL for its group after stopTimeout, when the
// test ends; a failed test prints what it logged.
func (p *Proxy) start(t testing.TB, bin string, stopSignal syscall.Signal, args ...string) {
	t.Helper()
	p.out = &syncbuf.Buffer{}
	p.done = make(chan struct{})
	p.cmd = exec.Command(bin, args...)
	p.cmd.Dir = p.Dir
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	p.cmd.SysProcAttr = sysProcAttr()
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("proxytest: starting %s: %v", p.name, err)
	}
	go func() {
		p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.stop(stopSignal)
		if t.Failed() {
			t.Logf("proxytest: %s logged:\n%s", p.name, p.Logs())
		}
	})
	deadline := time.Now().Add(startTimeout)
	for {
		c, err := net.DialTimeout("tcp", p.Addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		select {
		case <-p.done:
			t.Fatalf("proxytest: %s exited (%v):\n%s", p.name, p.cmd.ProcessState, p.Logs())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("proxytest: %s does not accept connections on %s after %v:\n%s", p.name, p.Addr, startTimeout, p.Logs())
		}
	}
}

// stop ends the process: sig first, then SIGKILL for its process group
// (the proxy's workers) if it has not exited within stopTimeout.
func (p *Proxy) stop(sig syscall.Signal) {
	p.cmd.Process.Signal(sig)
	select {
	case <-p.done:
	case <-time.After(stopTimeout):
		killGroup(p.cmd.Process)
		<-p.done
	}
}

// Logs returns what the proxy wrote to its output and its log file.
func (p *Proxy) Logs() string {
	var b bytes.Buffer
	b.WriteString(p.out.String())
	if p.logFile != "" {
		data, err := os.ReadFile(p.logFile)
		switch {
		case errors.Is(err, os.ErrNotExist):
		case err != nil:
			fmt.Fprintf(&b, "(%s: %v)\n", p.logFile, err)
		default:
			fmt.Fprintf(&b, "--- %s\n%s", filepath.Base(p.logFile), data)
		}
	}
	return b.String()
}

// writeFile writes data to name in dir.
func writeFile(t testing.TB, dir, name, data string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatalf("proxytest: %v", err)
	}
	return path
}

// readFile returns a file's contents, or what went wrong reading it.
func readFile(path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(%v)", err)
	}
	return string(data)
}
