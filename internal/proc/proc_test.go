package proc

import (
	"os"
	"os/exec"
	"path/filepath"
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
