package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"
)

func main() {
	err := run(context.Background(), os.Args[1:], os.Stdout, os.Stderr)
	switch {
	case errors.Is(err, flag.ErrHelp):
	case err != nil:
		fmt.Fprintln(os.Stderr, "boshload:", err)
		os.Exit(1)
	}
}

// run parses args, drives the load and prints the result: the report to
// stdout, or with -json the report to stderr and one JSON line to stdout.
// It returns within -duration, with an error when no session logged in.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	start := time.Now()
	nofile, err := noFileLimit()
	if err != nil {
		return fmt.Errorf("reading RLIMIT_NOFILE: %w", err)
	}
	if need := uint64(o.conns() + 64); nofile < need {
		fmt.Fprintf(stderr, "boshload: warning: RLIMIT_NOFILE %d is below the %d descriptors %d sessions need\n", nofile, need, o.sessions)
	}
	// hard bounds every request; work ends the phases earlier, leaving
	// time to terminate the sessions; a signal ends work too.
	hard, cancel := context.WithDeadline(ctx, start.Add(o.duration))
	defer cancel()
	work, stop := signal.NotifyContext(hard, os.Interrupt, syscall.SIGTERM)
	defer stop()
	work, cancelWork := context.WithDeadline(work, start.Add(o.duration-min(5*time.Second, o.duration/10)))
	defer cancelWork()

	l := newLoad(hard, o, start)
	res, err := l.run(work)
	cancel()
	l.wg.Wait()
	l.closeTransports()
	if res != nil {
		report := stdout
		if o.json {
			report = stderr
			line, _ := json.Marshal(res)
			fmt.Fprintf(stdout, "%s\n", line)
		}
		res.print(report)
	}
	return err
}

// run drives the phases: login, idle, messages, terminate.
func (l *load) run(work context.Context) (*result, error) {
	o := l.o
	res := &result{URL: o.url, Mode: o.mode, Sessions: o.sessions, Messages: o.messages}
	server := o.pid != 0
	pid := strconv.Itoa(o.pid)
	var p0, p1, p2 procSample
	if server {
		var err error
		if p0, err = readProc(pid); err != nil {
			return nil, fmt.Errorf("-pid: %w", err)
		}
	}
	self0, _ := readProc("self")

	t0 := time.Now()
	ok, last := l.loginAll(work)
	res.LoggedIn, res.LoginFailures = ok, o.sessions-ok
	res.CreateRetries = l.createRetries.Load()
	res.Create503 = l.create503.Load()
	if ok > 0 {
		res.LoginSeconds = last.Sub(t0).Seconds()
		res.LoginsPerSecond = float64(ok) / res.LoginSeconds
	}
	defer func() {
		res.Errors = l.failures()
		res.collectFaults(l)
		if self1, err := readProc("self"); err == nil {
			res.ClientCPUSeconds = (self1.cpu - self0.cpu).Seconds()
		}
	}()
	if ok == 0 {
		l.terminateAll()
		return res, errors.New("no session logged in")
	}
	sleepUntil(work, time.Now().Add(o.idle))
	if server {
		p1, server = l.sample(pid)
	}

	act := l.active()
	begin := l.messages(work, act)
	if server {
		p2, server = l.sample(pid)
	}
	res.collect(l, act, begin)
	if server {
		res.Server = newServerFigures(p0, p1, p2, ok, res.Delivered)
	}
	l.terminateAll()
	return res, nil
}

// sample reads the server's /proc figures; a failure (the server exited)
// is counted, and ok is false: no server figures are printed then.
func (l *load) sample(pid string) (p procSample, ok bool) {
	p, err := readProc(pid)
	if err != nil {
		l.fail("server", err)
		return p, false
	}
	return p, true
}

// failures returns a copy of the failure counts by kind.
func (l *load) failures() map[string]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.errs) == 0 {
		return nil
	}
	out := make(map[string]int, len(l.errs))
	for k, v := range l.errs {
		out[k] = v
	}
	return out
}
