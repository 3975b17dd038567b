package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"syscall"
	"time"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/PID/stat:
// 100 on every Linux architecture Go supports (proc(5)).
const clockTicks = 100

// procSample is one reading of a process's CPU time and resident memory.
type procSample struct {
	cpu time.Duration // utime + stime, every thread
	rss int64         // VmRSS, bytes
}

// readProc reads /proc/PID/stat and /proc/PID/status; pid "self" is this process.
func readProc(pid string) (procSample, error) {
	stat, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return procSample{}, err
	}
	cpu, err := parseStat(stat)
	if err != nil {
		return procSample{}, fmt.Errorf("/proc/%s/stat: %w", pid, err)
	}
	status, err := os.ReadFile("/proc/" + pid + "/status")
	if err != nil {
		return procSample{}, err
	}
	rss, err := parseRSS(status)
	if err != nil {
		return procSample{}, fmt.Errorf("/proc/%s/status: %w", pid, err)
	}
	return procSample{cpu: cpu, rss: rss}, nil
}

// parseStat returns utime + stime from a /proc/PID/stat line (proc(5)):
// fields 14 and 15, counted after the command name, which is in
// parentheses and may itself hold spaces and parentheses.
func parseStat(line []byte) (time.Duration, error) {
	end := bytes.LastIndexByte(line, ')')
	if end < 0 {
		return 0, errors.New("no command name")
	}
	// After ")": field 3 (state) is fields[0], so field n is fields[n-3].
	fields := bytes.Fields(line[end+1:])
	if len(fields) < 13 {
		return 0, fmt.Errorf("%d fields after the command name, want at least 13", len(fields))
	}
	var ticks int64
	for _, f := range fields[11:13] {
		n, err := strconv.ParseInt(string(f), 10, 64)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("bad CPU time %q", f)
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / clockTicks, nil
}

// parseRSS returns VmRSS from /proc/PID/status, in bytes (the file gives kB).
func parseRSS(status []byte) (int64, error) {
	for line := range bytes.Lines(status) {
		rest, ok := bytes.CutPrefix(line, []byte("VmRSS:"))
		if !ok {
			continue
		}
		f := bytes.Fields(rest)
		if len(f) != 2 || string(f[1]) != "kB" {
			return 0, fmt.Errorf("bad VmRSS line %q", bytes.TrimSpace(line))
		}
		kb, err := strconv.ParseInt(string(f[0]), 10, 64)
		if err != nil || kb < 0 {
			return 0, fmt.Errorf("bad VmRSS line %q", bytes.TrimSpace(line))
		}
		return kb << 10, nil
	}
	return 0, errors.New("no VmRSS line")
}

// noFileLimit returns this process's soft RLIMIT_NOFILE. The Go runtime
// has already raised it to the hard limit at start (Go 1.19 and later, on
// Unix), which is as far as an unprivileged process can go.
func noFileLimit() (uint64, error) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, err
	}
	return lim.Cur, nil
}
