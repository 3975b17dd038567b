package main

import (
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseStat(t *testing.T) {
	for _, tc := range []struct {
		name string
		line string
		want time.Duration
		err  bool
	}{
		{
			name: "plain command name: utime 1234 + stime 566 ticks (proc(5) fields 14, 15)",
			line: "4242 (boshd) S 1 4242 4242 0 -1 4194560 1234 0 0 0 1234 566 0 0 20 0 7 0 123456 1234567 890 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0",
			want: 18 * time.Second,
		},
		{
			name: "command name with spaces and parentheses",
			line: "7 (beam.smp) (x) y) R 1 7 7 0 -1 0 0 0 0 0 250 50 0 0 20 0 1 0 1 1 1",
			want: 3 * time.Second,
		},
		{name: "no command name", line: "7 beam S 1", err: true},
		{name: "too few fields", line: "7 (x) S 1 2 3", err: true},
		{name: "CPU time not a number", line: "7 (x) S 1 7 7 0 -1 0 0 0 0 0 ab 50 0 0", err: true},
		{name: "negative CPU time", line: "7 (x) S 1 7 7 0 -1 0 0 0 0 0 -1 50 0 0", err: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseStat([]byte(tc.line))
			if tc.err {
				assert.Error(t, err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestParseRSS(t *testing.T) {
	for _, tc := range []struct {
		name   string
		status string
		want   int64
		err    bool
	}{
		{name: "VmRSS in kB", status: "Name:\tboshd\nVmPeak:\t  9000 kB\nVmRSS:\t   20480 kB\nThreads:\t7\n", want: 20 << 20},
		{name: "no VmRSS (a kernel thread)", status: "Name:\tkthreadd\nThreads:\t1\n", err: true},
		{name: "unit not kB", status: "VmRSS:\t20 MB\n", err: true},
		{name: "not a number", status: "VmRSS:\tlots kB\n", err: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseRSS([]byte(tc.status))
			if tc.err {
				assert.Error(t, err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

// TestReadProcSelf: this process's own /proc files parse (Linux only).
func TestReadProcSelf(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc")
	}
	p, err := readProc(strconv.Itoa(os.Getpid()))
	require.NoError(t, err)
	assert.Positive(t, p.rss)
}
