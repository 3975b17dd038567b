// Package proc stops the processes of the real servers the tests run
// (internal/prosodytest, internal/ejabberdtest) and reads their logs: the
// parts every such helper needs, written once.
//
// Layer: internal, standard library only; used by test helpers.
package proc

import (
	"os"
	"os/exec"
	"strings"
	"syscall"
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
