package e2e

import (
	"net/http"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// message is a chat message as a page received it.
type message struct {
	From string `json:"from"`
	Body string `json:"body"`
}

// Scenario 1: Strophe.js from another origin (CORS); alice
// logs in with SASL PLAIN, bob with SCRAM-SHA-1; messages both ways; both
// disconnect cleanly with a terminate request (XEP-0124 §13).
func TestStropheCrossOrigin(t *testing.T) {
	for _, up := range upstreams {
		t.Run(up.name, func(t *testing.T) {
			cfg := newConfig(t, "localhost", "alice", "bob")
			stropheCrossOrigin(t, cfg, up.start(t, cfg))
		})
	}
}

// upstreams are the two ways boshd runs in the scenarios: with its
// in-memory core, and relaying to a real Prosody.
var upstreams = []struct {
	name  string
	start func(t *testing.T, cfg *config, extra ...string) string
}{
	{"memcore", startBoshd},
	{"prosody", startRelay},
}

func stropheCrossOrigin(t *testing.T, cfg *config, base string) {
	var res struct {
		AliceJID, BobJID string
		AtBob, AtAlice   message
		Statuses         [][]string
	}
	runScenario(t, "strophe", cfg, &res)
	assert.Regexp(t, `^alice@localhost/.+`, res.AliceJID)
	assert.Regexp(t, `^bob@localhost/.+`, res.BobJID)
	assert.Equal(t, res.AliceJID, res.AtBob.From)
	assert.Equal(t, res.BobJID, res.AtAlice.From)
	st := boshStats(t, base)
	assert.Zero(t, st.Sessions, "sessions left open")
	assert.Equal(t, uint64(2), st.Ended["terminate"], "sessions ended by a terminate request: %v", st.Ended)
	require.Len(t, res.Statuses, 2)
}

// Scenario 5: CORS with credentials: credentialed
// requests from the allowed origin work; another origin is refused and
// gets no session.
func TestCORSWithCredentials(t *testing.T) {
	cfg := newConfig(t, "localhost", "alice")
	cfg.Extra = map[string]any{"otherOrigin": servePages(t, "127.0.0.3", http.NewServeMux())}
	base := startBoshd(t, cfg)
	var res struct {
		JID string
		Raw struct {
			Status int
			Body   string
		}
		RefusedFetch string
		RefusedLogin string
	}
	runScenario(t, "cors", cfg, &res)
	assert.Regexp(t, `^alice@localhost/.+`, res.JID)
	// The credentialed raw request reached boshd and its answer was
	// readable: item-not-found for the unknown sid (XEP-0124 §17.2), with
	// HTTP 200, since without a session nothing says the client is a
	// legacy one (§17.1).
	assert.Equal(t, 200, res.Raw.Status)
	assert.Contains(t, res.Raw.Body, "item-not-found")
	assert.Contains(t, res.RefusedFetch, "refused")
	assert.Contains(t, res.RefusedLogin, "refused")
	st := boshStats(t, base)
	assert.Zero(t, st.Sessions)
	assert.Equal(t, map[string]uint64{"terminate": 1}, st.Ended, "only the allowed origin's session existed")
}

// Scenario 3, Strophe.js: a page reload with 'keepalive' continues the
// session on the next rid, and the message sent to the user while the page
// was gone arrives after the reload (XEP-0124 §14: nothing lost).
func TestStropheReloadLosesNothing(t *testing.T) {
	for _, up := range upstreams {
		t.Run(up.name, func(t *testing.T) {
			cfg := newConfig(t, "localhost", "alice", "bob")
			base := up.start(t, cfg)
			var res struct {
				AliceJID, RestoredJID string
				During                message
				AfterReloadReceived   int
				SIDBefore, SIDAfter   string
				LastRidBefore         uint64
				FirstRidAfter         uint64
				StatusAfter           []string
			}
			runScenario(t, "reload", cfg, &res)
			assert.Equal(t, res.AliceJID, res.RestoredJID, "restored the same full JID")
			assert.Equal(t, res.SIDBefore, res.SIDAfter, "the same session")
			assert.Zero(t, res.AfterReloadReceived, "the reloaded page starts empty")
			assert.Equal(t, "sent during reload", res.During.Body)
			assertNextRid(t, res.LastRidBefore, res.FirstRidAfter)
			assert.Contains(t, res.StatusAfter, "ATTACHED")
			st := boshStats(t, base)
			assert.Zero(t, st.Sessions)
			assert.Equal(t, uint64(2), st.Ended["terminate"], "%v", st.Ended)
		})
	}
}

// Scenario 2: converse.js's UI: log in, open a chat with the other user,
// send and receive; the screenshot is kept in artifacts/.
func TestConverseChat(t *testing.T) {
	for _, up := range upstreams {
		t.Run(up.name, func(t *testing.T) {
			cfg := newConfig(t, "localhost", "alice", "bob")
			up.start(t, cfg)
			cfg.Extra = map[string]any{"screenshot": "converse-" + up.name + ".png"}
			var res struct {
				AtBob      message
				Texts      []string
				Screenshot string
			}
			runScenario(t, "converse", cfg, &res)
			assert.Regexp(t, `^alice@localhost/.+`, res.AtBob.From)
			assert.Equal(t, []string{"Hi Bob, this is converse.js over httpbind", "Hello Alice, Strophe.js here"}, res.Texts)
			assert.FileExists(t, res.Screenshot)
			t.Logf("screenshot: %s", res.Screenshot)
		})
	}
}

// Scenario 3, converse.js: its session restore after a page reload
// continues the BOSH session on the next rid; the message sent while the
// page was gone shows in the chat after the reload.
func TestConverseReloadLosesNothing(t *testing.T) {
	for _, up := range upstreams {
		t.Run(up.name, func(t *testing.T) {
			cfg := newConfig(t, "localhost", "alice", "bob")
			up.start(t, cfg)
			cfg.Extra = map[string]any{"screenshot": "converse-reload-" + up.name + ".png"}
			var res struct {
				Texts                        []string
				AtBob                        message
				SIDBefore, SIDAfter          string
				SIDsAfter                    []string
				LastRidBefore, FirstRidAfter uint64
			}
			runScenario(t, "converse-reload", cfg, &res)
			assert.Equal(t, []string{"before reload", "sent during reload"}, res.Texts)
			assert.NotEmpty(t, res.SIDBefore)
			assert.Equal(t, []string{res.SIDBefore}, res.SIDsAfter, "the same session after the reload")
			assertNextRid(t, res.LastRidBefore, res.FirstRidAfter)
			assert.Regexp(t, `^alice@localhost/.+`, res.AtBob.From)
		})
	}
}

// Scenario 4: prebind. examples/webchat logs its users in with its own
// form and prebinds their XMPP sessions (xmppstream/prebind); converse.js
// attaches to them and the users chat.
func TestPrebindConverse(t *testing.T) {
	cfg := newConfig(t, "localhost")
	type siteUser struct {
		Name         string `json:"name"`
		SitePassword string `json:"sitePassword"`
	}
	users := map[string]siteUser{"alice": {"alice", "alice-site-pw"}, "bob": {"bob", "bob-site-pw"}}
	accounts := make(map[string]string)
	for _, u := range users {
		accounts[u.Name] = u.SitePassword
	}
	file := writeAccounts(t, accounts)
	assets, err := filepath.Abs(filepath.Join("node_modules", "converse.js", "dist"))
	require.NoError(t, err)
	_, rest := start(t, "webchat", "webchat: serving ", "-listen", "127.0.0.1:0", "-users", file, "-assets", assets)
	site := strings.TrimSuffix(strings.Fields(rest)[0], "/")
	cfg.BOSH = site + "/http-bind"
	cfg.Extra = map[string]any{"site": site, "users": users}

	type prebound struct {
		Status int
		JID    string
		SID    string
		RID    uint64
	}
	type request struct {
		RID uint64
		SID string
	}
	var res struct {
		Alice, Bob           prebound
		AliceFirst, BobFirst request
		AtBob, AtAlice       []string
	}
	runScenario(t, "prebind", cfg, &res)
	for _, c := range []struct {
		name  string
		p     prebound
		first request
	}{{"alice", res.Alice, res.AliceFirst}, {"bob", res.Bob, res.BobFirst}} {
		assert.Equal(t, 200, c.p.Status, c.name)
		assert.Regexp(t, "^"+c.name+`@localhost/.+`, c.p.JID)
		assert.NotEmpty(t, c.p.SID, c.name)
		// converse.js attached: its first request is the prebound
		// session's, on the rid /prebind said comes next.
		assert.Equal(t, request{RID: c.p.RID, SID: c.p.SID}, c.first, c.name)
	}
	assert.Equal(t, []string{"Hello from a prebound session"}, res.AtBob)
	assert.Equal(t, []string{"Hello from a prebound session", "Prebound here too"}, res.AtAlice)
}

// assertNextRid checks that the reloaded page continued the session on the
// next rid after the last one the old page sent. Strophe.js caches the
// next rid when it numbers a request, before sending it; a page reloaded
// in between continues one rid further, and the connection manager gives
// the never-sent rid up after bosh.Config.GapTimeout (§14.2).
func assertNextRid(t *testing.T, last, first uint64) {
	t.Helper()
	switch first {
	case last + 1:
	case last + 2:
		t.Logf("the old page numbered rid %d but never sent it; the session gave it up", last+1)
	default:
		t.Errorf("after the reload the page sent rid %d; the old page's last was %d", first, last)
	}
}

// Scenario 4 against boshd -prebind, with each upstream: a host backend
// prebinds through boshd's endpoint and converse.js, on another origin,
// attaches to the session and chats.
func TestPrebindBoshdEndpoint(t *testing.T) {
	for _, up := range upstreams {
		t.Run(up.name, func(t *testing.T) {
			cfg := newConfig(t, "localhost", "alice", "bob")
			// Set once boshd runs; read by the page server's goroutines.
			var endpoint atomic.Pointer[string]
			cfg.pages.Handle("/prebind", hostPrebind(cfg, &endpoint))
			url := up.start(t, cfg, "-prebind", "/prebind") + "/prebind"
			endpoint.Store(&url)
			var res struct {
				Session struct {
					Status   int
					JID, SID string
					RID      uint64
				}
				First struct {
					RID uint64
					SID string
				}
				AtBob message
				Texts []string
			}
			runScenario(t, "prebind-boshd", cfg, &res)
			assert.Equal(t, 200, res.Session.Status)
			assert.Regexp(t, `^alice@localhost/.+`, res.Session.JID)
			assert.Equal(t, res.Session.RID, res.First.RID, "converse.js continues on the prebound rid")
			assert.Equal(t, res.Session.SID, res.First.SID)
			assert.Equal(t, res.Session.JID, res.AtBob.From)
			assert.Equal(t, []string{"attached to a session boshd prebound", "got it"}, res.Texts)
		})
	}
}
