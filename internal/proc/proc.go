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
