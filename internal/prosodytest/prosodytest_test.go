package prosodytest

import (
	"context"
	"encoding/xml"
	"errors"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// nextMessage returns the next <message/>, skipping other elements (the
// server may send presence or roster pushes first); the loop is bounded.
func nextMessage(ctx context.Context, t *testing.T, c *TCPClient) []byte {
	t.Helper()
	for range 20 {
		el, err := c.Next(ctx)
		require.NoError(t, err)
		if strings.HasPrefix(string(el), "<message") {
			return el
		}
	}
	t.Fatal("no message among 20 elements")
	return nil
}

func TestStartRegisterDialMessage(t *testing.T) {
	ctx := testContext(t)
	s := Start(t, Config{Domain: "example.test"})
	s.Register("alice", "alice-secret")
	s.Register("bob", "bob secret ü")

	alice, err := Dial(ctx, s.C2SAddr, s.Domain, "alice", "alice-secret", s.CAPool, "desk")
	require.NoError(t, err)
	defer alice.Close()
	assert.Equal(t, "alice@example.test/desk", alice.JID())
	bob, err := Dial(ctx, s.C2SAddr, s.Domain, "bob", "bob secret ü", s.CAPool, "")
	require.NoError(t, err)
	defer bob.Close()
	assert.True(t, strings.HasPrefix(bob.JID(), "bob@example.test/"), bob.JID())

	require.NoError(t, alice.Send([]byte("<message to='"+bob.JID()+"' type='chat'><body>hi &amp; bye</body></message>")))
	var m struct {
		From string `xml:"from,attr"`
		Body string `xml:"body"`
	}
	require.NoError(t, xml.Unmarshal(nextMessage(ctx, t, bob), &m))
	assert.Equal(t, "alice@example.test/desk", m.From)
	assert.Equal(t, "hi & bye", m.Body)

	pem, err := os.ReadFile(s.CAFile)
	require.NoError(t, err)
	assert.Contains(t, string(pem), "BEGIN CERTIFICATE")
	assert.True(t, strings.HasPrefix(s.BOSHURL, "http://127.0.0.1:"), s.BOSHURL)
}

func TestDialRefusals(t *testing.T) {
	ctx := testContext(t)
	s := Start(t, Config{})
	s.Register("alice", "secret")
	_, err := Dial(ctx, s.C2SAddr, s.Domain, "alice", "wrong", s.CAPool, "")
	assert.ErrorContains(t, err, "not-authorized", "a wrong password is refused (RFC 6120 §6.5.10)")
	_, err = Dial(ctx, s.C2SAddr, s.Domain, "alice", "secret", nil, "")
	assert.ErrorContains(t, err, "certificate", "the system roots do not trust the test CA")
}

func TestKillEndsConnections(t *testing.T) {
	ctx := testContext(t)
	s := Start(t, Config{})
	s.Register("alice", "secret")
	c, err := Dial(ctx, s.C2SAddr, s.Domain, "alice", "secret", s.CAPool, "")
	require.NoError(t, err)
	defer c.Close()
	s.Kill()
	s.Kill() // idempotent
	s.Stop()
	for range 20 { // anything Prosody sent before dying, then the end
		if _, err = c.Next(ctx); err != nil {
			break
		}
	}
	require.Error(t, err)
	assert.NoError(t, ctx.Err(), "the connection ended; Next did not wait for the test's deadline")
}

func TestNextHonoursContext(t *testing.T) {
	s := Start(t, Config{})
	s.Register("alice", "secret")
	c, err := Dial(testContext(t), s.C2SAddr, s.Domain, "alice", "secret", s.CAPool, "")
	require.NoError(t, err)
	defer c.Close()
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err = c.Next(ctx)
	assert.ErrorIs(t, err, context.Canceled)
}

func TestInCI(t *testing.T) {
	for _, tc := range []struct {
		env  string
		want bool
	}{{"", false}, {"true", true}, {"1", true}, {"false", false}, {"yes", false}} {
		t.Run(tc.env, func(t *testing.T) {
			t.Setenv("CI", tc.env)
			assert.Equal(t, tc.want, InCI())
		})
	}
}

func TestEncodeName(t *testing.T) {
	assert.Equal(t, "localhost", encodeName("localhost"))
	assert.Equal(t, "example%2etest", encodeName("example.test"), "as Prosody's datamanager")
	assert.Equal(t, "a%2db%5f", encodeName("a-b_"))
}

func TestElementReader(t *testing.T) {
	stream := "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='" + nsStream + "'>" +
		"<stream:features><x/></stream:features>\n <message to='a'><body>1 &lt; 2</body></message>" +
		"<stream:error><conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error></stream:stream>"
	r := newElementReader(strings.NewReader(stream))
	want := []struct{ space, local, raw string }{
		{nsStream, "features", "<stream:features><x/></stream:features>"},
		{"jabber:client", "message", "<message to='a'><body>1 &lt; 2</body></message>"},
		{nsStream, "error", "<stream:error><conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>"},
	}
	for _, w := range want {
		name, raw, err := r.next()
		require.NoError(t, err)
		assert.Equal(t, xml.Name{Space: w.space, Local: w.local}, name)
		assert.Equal(t, w.raw, string(raw))
	}
	_, _, err := r.next()
	assert.ErrorIs(t, err, io.EOF, "</stream:stream> ends the stream")
}

func FuzzElementReader(f *testing.F) {
	f.Add("<stream:stream xmlns:stream='" + nsStream + "'><a><b/></a><c>t</c></stream:stream>")
	f.Add("<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='" + nsStream + "'><message/>")
	f.Add("<a></b>")
	f.Fuzz(func(t *testing.T, in string) {
		r := newElementReader(strings.NewReader(in))
		for range 100 {
			_, raw, err := r.next()
			if err != nil {
				return
			}
			// Every element returned is one well-formed element by itself,
			// prefixes aside.
			d := xml.NewDecoder(strings.NewReader(string(raw)))
			d.Strict = false
			for {
				if _, err := d.Token(); err != nil {
					if !errors.Is(err, io.EOF) {
						t.Fatalf("element %q: %v", raw, err)
					}
					break
				}
			}
		}
	})
}
