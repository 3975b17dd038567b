// Package proc starts and stops the processes of the real servers the
// tests run (internal/prosodytest, internal/ejabberdtest) and reads their
// logs: the parts every such helper needs, written once. Start at Start,
// which a helper's own Start calls inside Retry with fresh FreePorts.
//
// Layer: internal, standard library only (testing for Cleanup); used by
// test helpers.
package proc

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// End signals cmd, whose Wait closes done, and kills it if it has not
// exited within timeout; it returns once the process has exited.
func End(cmd *exec.Cmd, done <-chan struct{}, sig syscall.Signal, timeout time.Duration) {
	cmd.Process.Signal(sig)
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		cmd.Process.Kill()
		<-done
	}
}

// Tail returns the last n lines of the file at path, or the error reading
// it.
func Tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// Retry calls start up to tries times, until it succeeds or reports that
// another try cannot help, and returns the last error. A server started on
// fresh loopback ports retries when a port was taken between choosing it
// and binding it.
func Retry(tries int, start func() (retry bool, err error)) error {
	var err error
	for range tries {
		var retry bool
		if retry, err = start(); err == nil || !retry {
			return err
		}
	}
	return err
}

// Launch says how Start runs a server and tells that it is ready.
type Launch struct {
	// Name names the server in errors, such as "prosody".
	Name string
	// Out is the file that receives the process's standard output and
	// error; it is quoted when the process exits before it is ready.
	Out string
	// Log is the server's log, read every Poll until Ready reports it
	// ready; an error from Start carries its last lines.
	Log  string
	Poll time.Duration
	// Timeout bounds the wait for Ready: a hang guard, after which the
	// process is killed.
	Timeout time.Duration
	// StopTimeout bounds Process.Stop's wait after SIGTERM, before it
	// kills the process.
	StopTimeout time.Duration
	// Taken is what the log says when one of the server's ports was taken
	// between choosing it and binding it: the process is killed, and
	// Start reports that a try on other ports may help.
	Taken string
	// Ready reports, from the whole log so far, whether the server is
	// ready.
	Ready func(log []byte) bool
}

// tailLines is how much of the log an error of Start carries.
const tailLines = 40

// Process is a server process that Start started. Its methods are safe
// for concurrent use.
type Process struct {
	cmd         *exec.Cmd
	done        chan struct{} // closed when cmd.Wait has returned
	stopTimeout time.Duration
	end         sync.Once
}

// Stop stops the process gracefully (SIGTERM), and kills it if it has
// not exited within Launch.StopTimeout. It waits for the process and is
// idempotent.
func (p *Process) Stop() { p.end.Do(func() { End(p.cmd, p.done, syscall.SIGTERM, p.stopTimeout) }) }

// Kill kills the process at once (SIGKILL), as a crash would. It waits
// for the process and is idempotent.
func (p *Process) Kill() { p.end.Do(func() { End(p.cmd, p.done, syscall.SIGKILL, p.stopTimeout) }) }

// Start starts cmd with its output in l.Out and waits until l.Ready, with
// l.Timeout as a hang guard. On an error the process has exited or been
// killed; retry reports a port taken meanwhile.
func Start(cmd *exec.Cmd, l Launch) (p *Process, retry bool, err error) {
	out, err := os.Create(l.Out)
	if err != nil {
		return nil, false, err
	}
	defer out.Close()
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		return nil, false, err
	}
	p = &Process{cmd: cmd, done: make(chan struct{}), stopTimeout: l.StopTimeout}
	go func() {
		cmd.Wait()
		close(p.done)
	}()
	retry, err = waitReady(p, l)
	if err != nil {
		return nil, retry, fmt.Errorf("%w\n%s", err, Tail(l.Log, tailLines))
	}
	return p, false, nil
}

// waitReady reads l.Log every l.Poll until the server is ready, its port
// was taken, it exited or l.Timeout passed.
func waitReady(p *Process, l Launch) (retry bool, err error) {
	tick := time.NewTicker(l.Poll)
	defer tick.Stop()
	deadline := time.NewTimer(l.Timeout)
	defer deadline.Stop()
	for {
		log, _ := os.ReadFile(l.Log)
		switch {
		case l.Taken != "" && bytes.Contains(log, []byte(l.Taken)):
			p.Kill()
			return true, fmt.Errorf("%s: a port was taken", l.Name)
		case l.Ready(log):
			return false, nil
		}
		select {
		case <-p.done:
			out, _ := os.ReadFile(l.Out)
			return false, fmt.Errorf("%s exited: %s; output: %s", l.Name, p.cmd.ProcessState, out)
		case <-deadline.C:
			p.Kill()
			return false, fmt.Errorf("%s not ready after %v", l.Name, l.Timeout)
		case <-tick.C:
		}
	}
}

// Cleanup makes t stop the server with stop when the test ends, and, when
// the test failed, log the tail of its log.
func Cleanup(t testing.TB, name, log string, stop func()) {
	t.Cleanup(func() {
		stop()
		if t.Failed() {
			t.Logf("%s: tail of %s:\n%s", name, log, Tail(log, tailLines))
		}
	})
}

// FreePorts returns n distinct loopback ports that were free a moment ago.
func FreePorts(n int) ([]int, error) {
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
