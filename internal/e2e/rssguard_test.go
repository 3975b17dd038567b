package e2e

import (
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRSSGuardKillsARunaway: the guard the client suite puts on every
// client kills a process whose resident memory passes rssLimit, by its
// pid, and says so. The runaway is this test binary run again as a helper
// that allocates 16 MB a step, at most 1 GB.
func TestRSSGuardKillsARunaway(t *testing.T) {
	if _, ok := readRSS(os.Getpid()); !ok {
		t.Skip("e2e: no /proc/PID/status to read resident memory from (Linux only)")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "E2E_RSS_HELPER=1")
	require.NoError(t, cmd.Start())
	g := guardRSS(cmd.Process.Pid)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		err = <-done
		t.Fatal("the runaway was not killed within 60 s")
	}
	peak, killed, samples := g.Stop()
	assert.True(t, killed, "killed above the limit")
	assert.Greater(t, peak, int64(rssLimit), "its peak passed the limit")
	assert.Positive(t, samples)
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit)
	ws, ok := exit.Sys().(syscall.WaitStatus)
	require.True(t, ok)
	assert.Equal(t, syscall.SIGKILL, ws.Signal())
}

// runawayHelper is the runaway of TestRSSGuardKillsARunaway, run as this
// test binary with E2E_RSS_HELPER=1 (see TestMain): it allocates and
// touches 16 MB a step, at most 1 GB, and exits 1 if nobody killed it.
func runawayHelper() {
	var keep [][]byte
	for range 64 {
		b := make([]byte, 16<<20)
		for i := 0; i < len(b); i += 4096 {
			b[i] = 1 // resident, not just reserved
		}
		keep = append(keep, b)
		time.Sleep(20 * time.Millisecond)
	}
	os.Exit(1)
}
