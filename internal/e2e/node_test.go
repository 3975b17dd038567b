package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/httpbind/httpbind/internal/syncbuf"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestStanzaJS runs StanzaJS (npm stanza, pinned in package.json) in Node,
// unmodified, through the client steps on every target.
func TestStanzaJS(t *testing.T) {
	node := requireNodePackages(t, "stanza")
	for _, tg := range targets {
		t.Run(tg.name, func(t *testing.T) {
			users := newUsers()
			ep := tg.start(t, users)
			runNodeClient(t, node, "client-stanza.mjs", ep, users)
		})
	}
}

// TestNodeXMPPClient runs node-xmpp-client (npm, pinned in package.json)
// in Node, unmodified, through the client steps on every target. It is a
// low-level library: the driver answers pings and asks for the roster
// itself, as an application on it does.
func TestNodeXMPPClient(t *testing.T) {
	node := requireNodePackages(t, "node-xmpp-client")
	for _, tg := range targets {
		t.Run(tg.name, func(t *testing.T) {
			users := newUsers()
			ep := tg.start(t, users)
			runNodeClient(t, node, "client-node-xmpp.cjs", ep, users)
		})
	}
}

// runNodeClient starts js/script as alice's client and runs the steps,
// with the node process's memory watched.
func runNodeClient(t *testing.T, node, script string, ep *endpoint, users map[string]string) {
	ctx, cancel := context.WithTimeout(context.Background(), clientTimeout)
	defer cancel()
	c := startNodeClient(ctx, t, node, script)
	c.ep, c.password = ep, users["alice"]
	guard := guardRSS(c.cmd.Process.Pid)
	defer guard.check(t, script)
	runClientSteps(ctx, t, c, ep, users)
}

// nodeClient is a driver script in Node, spoken to with one JSON command a
// line on its stdin; it answers with "EVENT {json}" lines on stdout.
type nodeClient struct {
	t        *testing.T
	ctx      context.Context
	ep       *endpoint
	password string
	cmd      *exec.Cmd
	stdin    io.WriteCloser
	events   chan event // closed when the script's stdout ends
	seen     []event    // read and not matched yet, oldest first
	log      *syncbuf.Buffer
}

// event is one event of a driver script.
type event struct {
	Ev      string   `json:"ev"`
	Op      string   `json:"op"`
	JID     string   `json:"jid"`
	From    string   `json:"from"`
	Body    string   `json:"body"`
	Items   []string `json:"items"`
	Message string   `json:"message"`
	raw     string
}

func startNodeClient(ctx context.Context, t *testing.T, node, script string) *nodeClient {
	t.Helper()
	c := &nodeClient{t: t, ctx: ctx, events: make(chan event, 256), log: &syncbuf.Buffer{}}
	c.cmd = exec.Command(node, filepath.Join("js", script))
	c.cmd.Stderr = c.log
	stdout, err := c.cmd.StdoutPipe()
	require.NoError(t, err)
	c.stdin, err = c.cmd.StdinPipe()
	require.NoError(t, err)
	require.NoError(t, c.cmd.Start())
	exited := make(chan struct{})
	go func() {
		defer close(c.events)
		s := bufio.NewScanner(stdout)
		s.Buffer(make([]byte, 4096), 1<<20)
		for s.Scan() {
			line := s.Text()
			fmt.Fprintf(c.log, "%s\n", line)
			rest, ok := strings.CutPrefix(line, "EVENT ")
			if !ok {
				continue
			}
			ev := event{raw: rest}
			if json.Unmarshal([]byte(rest), &ev) == nil {
				select {
				case c.events <- ev:
				default:
				}
			}
		}
	}()
	go func() { c.cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		c.stdin.Close()
		select {
		case <-exited:
		case <-time.After(3 * time.Second):
			c.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-exited:
			case <-time.After(3 * time.Second):
				c.cmd.Process.Kill()
				<-exited
			}
		}
		if t.Failed() {
			t.Logf("%s printed:\n%s", script, tail(c.log.String(), 200))
		}
	})
	return c
}

// do sends a command.
func (c *nodeClient) do(op string, args map[string]any) {
	c.t.Helper()
	cmd := map[string]any{"op": op}
	for k, v := range args {
		cmd[k] = v
	}
	b, err := json.Marshal(cmd)
	require.NoError(c.t, err)
	fmt.Fprintf(c.log, "> %s\n", b)
	_, err = c.stdin.Write(append(b, '\n'))
	require.NoError(c.t, err)
}

// expect returns the first event match accepts, among those already read
// and not matched yet or those arriving within 30 s. An error event fails
// the test.
func (c *nodeClient) expect(what string, match func(event) bool) event {
	c.t.Helper()
	for i, ev := range c.seen {
		if match(ev) {
			c.seen = append(c.seen[:i:i], c.seen[i+1:]...)
			return ev
		}
	}
	timeout := time.NewTimer(30 * time.Second)
	defer timeout.Stop()
	for {
		select {
		case ev, ok := <-c.events:
			switch {
			case !ok:
				c.t.Fatalf("the client exited waiting for %s", what)
			case match(ev):
				return ev
			case ev.Ev == "error" || ev.Ev == "stream-error":
				c.t.Fatalf("the client failed waiting for %s: %s", what, ev.raw)
			}
			c.seen = append(c.seen, ev)
		case <-timeout.C:
			c.t.Fatalf("the client: no %s within 30 s", what)
		case <-c.ctx.Done():
			c.t.Fatalf("the client: %v waiting for %s", c.ctx.Err(), what)
		}
	}
}

func (c *nodeClient) done(op string) {
	c.t.Helper()
	c.expect(op+" done", func(ev event) bool { return ev.Ev == "done" && ev.Op == op })
}

func (c *nodeClient) login() {
	c.t.Helper()
	c.do("login", map[string]any{"url": c.ep.url, "jid": "alice@" + clientDomain, "password": c.password,
		"wait": int(clientWait / time.Second)})
	ev := c.expect("online", func(ev event) bool { return ev.Ev == "online" })
	assert.Equal(c.t, "alice@"+clientDomain, bare(ev.JID))
}

func (c *nodeClient) addContact(jid string) {
	c.do("subscribe", map[string]any{"jid": jid})
	c.done("subscribe")
}

func (c *nodeClient) acceptSubscription(from string) {
	c.t.Helper()
	c.expect("the subscription request of "+from, func(ev event) bool { return ev.Ev == "subscribe" && bare(ev.From) == from })
	c.do("accept", map[string]any{"jid": from})
	c.done("accept")
}

func (c *nodeClient) waitContact(jid string) {
	c.t.Helper()
	c.expect(jid+" available", func(ev event) bool { return ev.Ev == "available" && bare(ev.From) == jid })
}

func (c *nodeClient) rosterHas(jid string) {
	c.t.Helper()
	c.do("roster", nil)
	ev := c.expect("the roster", func(ev event) bool { return ev.Ev == "roster" })
	assert.True(c.t, slices.Contains(ev.Items, jid), "roster %v has %s", ev.Items, jid)
}

func (c *nodeClient) sendMessage(to, body string) {
	c.t.Helper()
	c.do("send", map[string]any{"to": to, "body": body})
	c.done("send")
}

func (c *nodeClient) waitMessage(from, body string) {
	c.t.Helper()
	c.expect("the message "+body, func(ev event) bool { return ev.Ev == "message" && bare(ev.From) == from && ev.Body == body })
}

func (c *nodeClient) ping() bool {
	c.t.Helper()
	c.do("ping", nil)
	c.expect("the server's answer to the ping (XEP-0199 §4.2)", func(ev event) bool { return ev.Ev == "pong" })
	return true
}

func (c *nodeClient) disconnect() {
	c.t.Helper()
	c.do("disconnect", nil)
	c.expect("disconnected", func(ev event) bool { return ev.Ev == "disconnected" })
}
