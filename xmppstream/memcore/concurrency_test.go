package memcore

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/httpbind/httpbind/xmppstream"
)

// TestConcurrentRouting runs many clients at once (run it with -race):
// they bind, some over each other's resource, subscribe, send messages to
// bare JIDs and leave, failing deliveries after they are gone. Every
// message must end up exactly once in a client or in offline storage.
func TestConcurrentRouting(t *testing.T) {
	const (
		users    = 6
		perUser  = 3 // resources r0, r1 and a second client for r0
		messages = 30
	)
	c := mustNew(t, Config{Domain: "example.com"})
	for u := range users {
		require.NoError(t, c.AddUser(fmt.Sprintf("u%d", u), "pw"))
	}
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		clients = map[[2]int]*fakeClient{} // by user and client number
	)
	for u := range users {
		for k := range perUser {
			wg.Go(func() {
				ctx := context.Background()
				f := &fakeClient{}
				mu.Lock()
				clients[[2]int{u, k}] = f
				mu.Unlock()
				res := fmt.Sprintf("r%d", k%2) // clients k=0 and k=2 fight over r0
				user := xmppstream.JID{Local: fmt.Sprintf("u%d", u), Domain: "example.com"}
				j, err := c.Bind(ctx, f, user, res)
				if !assert.NoError(t, err) {
					return
				}
				f.mu.Lock()
				f.jid = j
				f.mu.Unlock()
				_ = c.StartSession(ctx, f)
				_, _ = c.Credentials(ctx, "example.com", user.Local)
				send := func(raw string) {
					st, err := buildStanza(j, raw)
					if assert.NoError(t, err) {
						c.Route(ctx, f, st)
					}
				}
				send("<iq type='get' id='r'><query xmlns='jabber:iq:roster'/></iq>")
				send(fmt.Sprintf("<presence><priority>%d</priority></presence>", k))
				next := fmt.Sprintf("u%d@example.com", (u+1)%users)
				send("<presence type='subscribe' to='" + next + "'/>")
				send(fmt.Sprintf("<presence type='subscribed' to='u%d@example.com'/>", (u+users-1)%users))
				for m := range messages {
					to := fmt.Sprintf("u%d@example.com", (u+m)%users)
					send(fmt.Sprintf("<message to='%s' type='chat'><body>%d-%d-%d</body></message>", to, u, k, m))
				}
				f.setGone()
				c.Unbind(f, nil)
			})
		}
	}
	wg.Wait()
	kicked := map[[2]int]bool{} // the kick may land after the client is done
	for id, f := range clients {
		kicked[id] = len(f.kicked()) > 0
	}

	seen := map[string]int{}
	count := func(raw []byte) {
		p, err := parse(raw)
		require.NoError(t, err)
		if p.name != "message" {
			return
		}
		for _, ch := range p.children {
			if ch.local == "body" {
				n := decode(t, ch.raw)
				seen[n.Text]++
			}
		}
	}
	for _, f := range clients {
		for _, b := range f.got {
			count(b)
		}
	}
	c.mu.Lock()
	for _, a := range c.accounts {
		assert.Empty(t, a.resources, "everyone left")
		for _, b := range a.offline {
			count(b)
		}
	}
	assert.Empty(t, c.retired, "every retired client was unbound")
	c.mu.Unlock()
	var lost, dup []string
	for u := range users {
		for k := range perUser {
			for m := range messages {
				body := fmt.Sprintf("%d-%d-%d", u, k, m)
				switch n := seen[body]; {
				case n > 1:
					dup = append(dup, body)
				case n == 0 && !kicked[[2]int{u, k}]:
					lost = append(lost, body) // a kicked client's later stanzas are dropped
				}
			}
		}
	}
	assert.Empty(t, lost, "messages lost")
	assert.Empty(t, dup, "messages delivered or stored more than once")
	for u := range users {
		assert.False(t, kicked[[2]int{u, 1}], "r1 has a single client, never kicked")
	}
}
