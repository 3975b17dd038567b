package e2e

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/httpbind/httpbind/internal/syncbuf"
)

// TestLibpurple runs libpurple 2.14's XMPP code (Pidgin's, Finch's), as
// Debian's bitlbee-libpurple builds it, unmodified: a private BitlBee on a
// free loopback port with its own configuration directory, driven over
// IRC (account add jabber, account N set bosh_url, account N on). Alice is
// libpurple; bob is a Go BOSH client on the same target. Every step runs
// on each target, and libpurple's memory is watched throughout: above
// rssLimit the BitlBee process is killed and the test fails.
//
// libpurple's quirks on the wire: its content type comes in a
// Content-Encoding header (bosh/wire.go ignores a media type there); it
// sends every request on one HTTP/1.1 connection, pipelined behind the
// held one; and on sign-off it pipelines its terminate request and closes
// the connection at once. boshd still reads that terminate once the held
// request is answered; Prosody's own BOSH drops it and ends the session
// when its inactivity runs out (prosodyInactivity).
func TestLibpurple(t *testing.T) {
	bin := requireBitlBee(t)
	for _, tg := range targets {
		t.Run(tg.name, func(t *testing.T) {
			users := newUsers()
			ep := tg.start(t, users)
			libpurpleScenario(t, bin, ep, users)
		})
	}
}

// requireBitlBee returns the bitlbee executable of bitlbee-libpurple.
func requireBitlBee(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("bitlbee")
	if err != nil {
		missingTool(t, "bitlbee is not installed (Debian's bitlbee-libpurple)")
	}
	out, _ := exec.Command(bin, "-V").CombinedOutput()
	if !strings.Contains(string(out), "--purple=1") {
		missingTool(t, "bitlbee is not the libpurple build (%s); install bitlbee-libpurple", strings.TrimSpace(string(out)))
	}
	return bin
}

// libpurpleScenario logs libpurple in through a private BitlBee and runs
// the client steps.
func libpurpleScenario(t *testing.T, bin string, ep *endpoint, users map[string]string) {
	ctx, cancel := context.WithTimeout(context.Background(), clientTimeout)
	defer cancel()
	b := startBitlBee(ctx, t, bin)
	guard := guardRSS(b.cmd.Process.Pid)
	defer guard.check(t, "libpurple (bitlbee)")
	b.ep, b.password = ep, users["alice"]
	runClientSteps(ctx, t, b, ep, users)
}

// login adds the jabber account with bosh_url and turns it on.
func (b *bitlbee) login() {
	b.t.Helper()
	b.command("account add jabber alice@" + clientDomain + " " + b.password)
	b.expectRoot("account added", "Account successfully added")
	for _, set := range []string{
		"bosh_url " + b.ep.url,
		"auth_plain_in_clear true",              // PLAIN over http:// on loopback
		"connection_security opportunistic_tls", // no STARTTLS over BOSH
	} {
		b.command("account 0 set " + set)
		b.expectRoot("setting "+set, strings.Fields(set)[0]+" = ")
	}
	b.command("account 0 on")
	b.expectRoot("login", "jabber - Logging in: Logged in")
}

func (b *bitlbee) addContact(jid string) {
	b.command("add 0 " + jid + " " + nickOf(jid))
	b.expectRoot("contact added", "Adding `"+jid+"' to contact list")
}

func (b *bitlbee) acceptSubscription(from string) {
	b.t.Helper()
	b.expectRoot("the subscription request of "+from, from+" wants to add you")
	b.command("yes")
	b.expectRoot("the request accepted", "Accepted: "+from)
}

func (b *bitlbee) waitContact(jid string) {
	b.t.Helper()
	b.expect(jid+" available in the control channel", func(l ircLine) bool {
		return l.command == "JOIN" && l.nick == nickOf(jid)
	})
}

func (b *bitlbee) rosterHas(jid string) {
	b.t.Helper()
	b.command("blist all")
	b.expectRoot(jid+" on the roster", jid)
}

func (b *bitlbee) sendMessage(to, body string) { b.send("PRIVMSG " + nickOf(to) + " :" + body) }

func (b *bitlbee) waitMessage(from, body string) {
	b.t.Helper()
	b.expect("the message "+body, func(l ircLine) bool {
		return l.command == "PRIVMSG" && l.nick == nickOf(from) && l.text == body
	})
}

// ping: libpurple pings its server on its own keepalive timer only; the
// scenario's ping is the peer's, which libpurple answers.
func (b *bitlbee) ping() bool { return false }

// disconnect turns the account off: libpurple sends its terminate request
// (XEP-0124 §13).
func (b *bitlbee) disconnect() {
	b.t.Helper()
	b.command("account 0 off")
	b.expectRoot("signing off", "jabber - Signing off")
}

// nickOf is BitlBee's nick for a contact: its JID's local part.
func nickOf(jid string) string {
	local, _, _ := strings.Cut(jid, "@")
	return local
}

// waitStats polls boshd's counters until cond holds, a bounded number of
// times.
func waitStats(t *testing.T, ep *endpoint, cond func(stats) bool) stats {
	t.Helper()
	var st stats
	for range 50 {
		if st = ep.stats(); cond(st) {
			return st
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Errorf("boshd's counters: %+v", st)
	return st
}

// bitlbee is a private BitlBee and one IRC connection to it.
type bitlbee struct {
	t        *testing.T
	ctx      context.Context
	ep       *endpoint
	password string // alice's
	cmd      *exec.Cmd
	conn     net.Conn
	lines    chan ircLine // closed when the connection ends
	// seen are the lines read that no expect matched yet, oldest first:
	// a line that arrives before the step that waits for it is kept.
	seen  []ircLine
	log   *syncbuf.Buffer
	debug *syncbuf.Buffer // BitlBee's and libpurple's debug output
}

// ircLine is one IRC message.
type ircLine struct {
	raw     string
	nick    string // of the prefix
	command string
	target  string // first parameter
	text    string // trailing parameter
}

func parseIRC(raw string) ircLine {
	l := ircLine{raw: raw}
	rest := raw
	if strings.HasPrefix(rest, ":") {
		var prefix string
		prefix, rest, _ = strings.Cut(rest[1:], " ")
		l.nick, _, _ = strings.Cut(prefix, "!")
	}
	head, text, hasText := strings.Cut(rest, " :")
	fields := strings.Fields(head)
	if len(fields) > 0 {
		l.command = fields[0]
	}
	if len(fields) > 1 {
		l.target = fields[1]
	}
	if hasText {
		l.text = text
	} else if l.command == "JOIN" && len(fields) > 1 {
		l.text = fields[1]
	}
	return l
}

// startBitlBee runs BitlBee (daemon mode, no fork) on a free loopback
// port with a configuration of its own, and connects to it as an IRC
// user. Both stop when the test ends.
func startBitlBee(ctx context.Context, t *testing.T, bin string) *bitlbee {
	t.Helper()
	var last error
	for range 3 { // a port found free may be taken meanwhile
		b, err := tryBitlBee(ctx, t, bin)
		if err == nil {
			return b
		}
		last = err
	}
	t.Fatalf("e2e: bitlbee did not start: %v", last)
	return nil
}

func tryBitlBee(ctx context.Context, t *testing.T, bin string) (*bitlbee, error) {
	dir := t.TempDir()
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	conf := filepath.Join(dir, "bitlbee.conf")
	text := fmt.Sprintf("[settings]\nRunMode = Daemon\nDaemonInterface = 127.0.0.1\nDaemonPort = %d\n"+
		"AuthMode = Open\nConfigDir = %s\n", port, dir)
	if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
		return nil, err
	}
	b := &bitlbee{t: t, ctx: ctx, log: &syncbuf.Buffer{}, debug: &syncbuf.Buffer{}, lines: make(chan ircLine, 1024)}
	b.cmd = exec.Command(bin, "-D", "-n", "-v", "-c", conf, "-d", dir)
	b.cmd.Env = append(os.Environ(), "BITLBEE_DEBUG=1") // libpurple's debug log, for failures
	b.cmd.Stdout, b.cmd.Stderr = b.debug, b.debug
	if err := b.cmd.Start(); err != nil {
		return nil, err
	}
	exited := make(chan struct{})
	go func() { b.cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		if b.conn != nil {
			b.conn.Close()
		}
		b.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			b.cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("IRC:\n%s", b.log.String())
			t.Logf("bitlbee/libpurple debug (tail):\n%s", tail(b.debug.String(), 120))
		}
	})
	addr := "127.0.0.1:" + strconv.Itoa(port)
	for range 100 { // up to 10 s
		if b.conn, err = net.Dial("tcp", addr); err == nil {
			break
		}
		select {
		case <-exited:
			return nil, fmt.Errorf("bitlbee exited: %s", tail(b.debug.String(), 10))
		case <-time.After(100 * time.Millisecond):
		}
	}
	if b.conn == nil {
		return nil, fmt.Errorf("bitlbee does not listen on %s: %v", addr, err)
	}
	go b.read()
	b.send("NICK tester")
	b.send("USER tester 0 * :tester")
	b.expect("the control channel", func(l ircLine) bool { return l.command == "JOIN" && l.text == "&bitlbee" })
	return b, nil
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// read reads IRC lines, answers PING, and passes the rest on.
func (b *bitlbee) read() {
	defer close(b.lines)
	s := bufio.NewScanner(b.conn)
	s.Buffer(make([]byte, 4096), 1<<20)
	for s.Scan() {
		raw := strings.TrimRight(s.Text(), "\r")
		fmt.Fprintf(b.log, "< %s\n", raw)
		l := parseIRC(raw)
		if l.command == "PING" {
			b.send("PONG :" + l.text)
			continue
		}
		select {
		case b.lines <- l:
		default: // nobody reads that much: the scenario fails on its own
		}
	}
}

// send writes one IRC line.
func (b *bitlbee) send(line string) {
	fmt.Fprintf(b.log, "> %s\n", line)
	b.conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprintf(b.conn, "%s\r\n", line)
}

// command sends a command to BitlBee's control channel.
func (b *bitlbee) command(text string) { b.send("PRIVMSG &bitlbee :" + text) }

// loginFailures are how BitlBee's root reports that libpurple gave up.
var loginFailures = []string{"Login error", "Couldn't log in", "Logged out", "Signing off", "terminated your session"}

// expect returns the first line match accepts, among those already read
// and not matched yet, or those that arrive within 30 s. A message of
// root that reports a failed or lost login ends the test.
func (b *bitlbee) expect(what string, match func(ircLine) bool) ircLine {
	b.t.Helper()
	for i, l := range b.seen {
		if match(l) {
			b.seen = append(b.seen[:i:i], b.seen[i+1:]...)
			return l
		}
	}
	timeout := time.NewTimer(30 * time.Second)
	defer timeout.Stop()
	for {
		select {
		case l, ok := <-b.lines:
			if !ok {
				b.t.Fatalf("bitlbee: the IRC connection ended waiting for %s", what)
			}
			if match(l) {
				return l
			}
			if l.nick == "root" {
				for _, f := range loginFailures {
					if strings.Contains(l.text, f) {
						b.t.Fatalf("bitlbee: %q waiting for %s", l.text, what)
					}
				}
			}
			b.seen = append(b.seen, l)
		case <-timeout.C:
			b.t.Fatalf("bitlbee: no %s within 30 s", what)
		case <-b.ctx.Done():
			b.t.Fatalf("bitlbee: %v waiting for %s", b.ctx.Err(), what)
		}
	}
}

// expectRoot waits for a message of BitlBee's root containing text.
func (b *bitlbee) expectRoot(what, text string) ircLine {
	b.t.Helper()
	return b.expect(what, func(l ircLine) bool { return l.nick == "root" && strings.Contains(l.text, text) })
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
