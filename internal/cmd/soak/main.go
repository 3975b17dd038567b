package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/httpbind/httpbind/bosh"
	"github.com/httpbind/httpbind/xmppstream"
	"github.com/httpbind/httpbind/xmppstream/memcore"
)

func main() {
	err := run(context.Background(), os.Args[1:], os.Stdout)
	switch {
	case errors.Is(err, flag.ErrHelp):
	case err != nil:
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(1)
	}
}

type options struct {
	sessions int
	duration time.Duration
	interval time.Duration
	messages int
	wait     time.Duration
}

func parseFlags(args []string, out io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("soak", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.IntVar(&o.sessions, "sessions", 1000, "concurrent clients (an even number: they chat in pairs)")
	fs.DurationVar(&o.duration, "duration", 10*time.Minute, "how long to run")
	fs.DurationVar(&o.interval, "interval", 30*time.Second, "how often to print figures")
	fs.IntVar(&o.messages, "messages", 5, "messages each client sends per login")
	fs.DurationVar(&o.wait, "wait", 5*time.Second, "the clients' BOSH 'wait'")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	switch {
	case o.sessions < 2 || o.sessions%2 != 0 || o.sessions > 100000:
		return o, fmt.Errorf("-sessions %d: want an even number from 2 to 100000", o.sessions)
	case o.duration <= 0 || o.interval <= 0 || o.messages < 1 || o.wait < time.Second:
		return o, errors.New("-duration and -interval must be positive, -messages at least 1, -wait at least 1s")
	}
	return o, nil
}

const domain = "localhost"

// run serves and drives the load until the duration is over or ctx ends.
func run(ctx context.Context, args []string, out io.Writer) error {
	o, err := parseFlags(args, out)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, o.duration)
	defer cancel()

	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	core, err := memcore.New(memcore.Config{Domain: domain, Logger: log})
	if err != nil {
		return err
	}
	for i := range o.sessions {
		if err := core.AddUser(user(i), "soak"); err != nil {
			return err
		}
	}
	up, err := xmppstream.NewServer(core, xmppstream.ServerConfig{Domains: []string{domain}, Logger: log})
	if err != nil {
		return err
	}
	h, err := bosh.NewHandler(up, bosh.Config{
		Logger: log,
		// Every client comes from 127.0.0.1, and all log in again and
		// again: the per-address and rate limits are raised accordingly.
		MaxSessionsPerAddress: 2 * o.sessions,
		SessionsPerSecond:     1e6,
		SessionBurst:          2 * o.sessions,
	})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("/http-bind", h)
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go hs.Serve(ln)
	url := "http://" + ln.Addr().String() + "/http-bind"
	fmt.Fprintf(out, "soak: %d clients against %s for %v\n", o.sessions, url, o.duration)

	l := newLoad(url, o)
	var wg sync.WaitGroup
	for i := range o.sessions {
		wg.Go(func() { l.worker(ctx, i) })
	}
	start := time.Now()
	tick := time.NewTicker(o.interval)
	defer tick.Stop()
	report := func() { fmt.Fprintln(out, l.line(time.Since(start), h.Stats())) }
	report()
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case <-tick.C:
			report()
		}
	}
	wg.Wait()
	sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer scancel()
	h.Shutdown(sctx)
	hs.Shutdown(sctx)
	l.hc.CloseIdleConnections()
	runtime.GC()
	report()
	fmt.Fprintln(out, "soak: done:", l.summary())
	if n := l.failures.Load(); n > 0 {
		return fmt.Errorf("%d client failures; first: %v", n, l.firstFailure())
	}
	return nil
}

func user(i int) string { return "u" + strconv.Itoa(i) }

// rss returns VmRSS from /proc/self/status, or "?" where there is none.
func rss() string {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return "?"
	}
	for line := range strings.Lines(string(data)) {
		var kb int64
		if _, err := fmt.Sscanf(line, "VmRSS: %d kB", &kb); err == nil {
			return fmt.Sprintf("%.1f MiB", float64(kb)/1024)
		}
	}
	return "?"
}
