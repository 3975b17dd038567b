package proc

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestTail(t *testing.T) {
	p := filepath.Join(t.TempDir(), "log")
	require.NoError(t, os.WriteFile(p, []byte("a\nb\nc\n"), 0o600))
	assert.Equal(t, "b\nc", Tail(p, 2))
	assert.Equal(t, "a\nb\nc", Tail(p, 10))
	assert.Contains(t, Tail(filepath.Join(t.TempDir(), "none"), 2), "no such file")
}

// TestEnd: a process that ignores the signal is killed after the timeout.
func TestEnd(t *testing.T) {
	cmd := exec.Command("sh", "-c", "trap '' TERM; sleep 30")
	require.NoError(t, cmd.Start())
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	time.Sleep(100 * time.Millisecond) // let the shell set its trap (a bounded wait for a real process)
	start := time.Now()
	End(cmd, done, syscall.SIGTERM, 300*time.Millisecond)
	assert.GreaterOrEqual(t, time.Since(start), 300*time.Millisecond, "waited for the signal first")
	assert.Equal(t, -1, cmd.ProcessState.ExitCode(), "killed")
}

func TestRetry(t *testing.T) {
	errTaken := errors.New("port taken")
	tests := []struct {
		name    string
		results []error // what each call returns; a call past the end fails the test
		retry   bool
		calls   int
		err     error
	}{
		{"first try succeeds", []error{nil}, true, 1, nil},
		{"second try succeeds", []error{errTaken, nil}, true, 2, nil},
		{"every try fails", []error{errTaken, errTaken, errTaken}, true, 3, errTaken},
		{"a failure that retrying cannot help", []error{errTaken}, false, 1, errTaken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calls := 0
			err := Retry(3, func() (bool, error) {
				require.Less(t, calls, len(tt.results), "called again")
				calls++
				return tt.retry, tt.results[calls-1]
			})
			assert.Equal(t, tt.calls, calls)
			assert.Equal(t, tt.err, err)
		})
	}
}

func TestStart(t *testing.T) {
	tests := []struct {
		name   string
		script string // run by sh; LOG is the log file
		retry  bool
		err    string // "" when the server is ready
	}{
		{name: "ready", script: `echo listening >> "$LOG"; exec sleep 30`},
		{name: "a port was taken: retry", script: `echo "port in use" >> "$LOG"; exec sleep 30`, retry: true, err: "a port was taken"},
		{name: "exits before it is ready", script: `echo boom; exit 3`, err: "exited: exit status 3; output: boom"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			log := filepath.Join(dir, "log")
			cmd := exec.Command("sh", "-c", tt.script)
			cmd.Env = append(os.Environ(), "LOG="+log)
			p, retry, err := Start(cmd, Launch{
				Name: "sh", Out: filepath.Join(dir, "out"), Log: log,
				Poll: time.Millisecond, Timeout: 10 * time.Second, StopTimeout: 10 * time.Second, Taken: "port in use",
				Ready: func(b []byte) bool { return strings.Contains(string(b), "listening") },
			})
			assert.Equal(t, tt.retry, retry)
			if tt.err == "" {
				require.NoError(t, err)
				p.Stop()
				p.Kill() // idempotent: the process has exited
				assert.NotNil(t, cmd.ProcessState, "Stop waited for the process")
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.err)
			assert.NotNil(t, cmd.ProcessState, "the process was waited for")
		})
	}
}

func TestFreePorts(t *testing.T) {
	ports, err := FreePorts(3)
	require.NoError(t, err)
	require.Len(t, ports, 3)
	assert.NotEqual(t, ports[0], ports[1])
	assert.NotEqual(t, ports[1], ports[2])
}
