// Scenario 4 against boshd -prebind: the page's host (the test's page
// server's /prebind, hostPrebind in scenarios_test.go) has its own idea of who the user is and
// asks boshd's prebind endpoint, server to server with HTTP Basic, for a
// session; converse.js on the page (another origin than boshd) attaches to
// it with authentication: 'prebind' and chats with bob, a Strophe.js page.
import { openChat, say, shown, stropheLogin } from "./conversepage.mjs";
import { recordRequests } from "./requests.mjs";

export async function run(t) {
  const { cfg } = t;
  const a = cfg.users.alice, b = cfg.users.bob;
  const bob = await t.page("bob");
  await stropheLogin(t, bob, b);

  const alice = await t.page("alice", { viewport: { width: 1000, height: 640 } });
  const sent = recordRequests(alice);
  const prebound = alice.waitForResponse((r) => new URL(r.url()).pathname === "/prebind");
  await alice.goto(cfg.pageOrigin + "/converse.html");
  await alice.evaluate((s) => startConverse(s), {
    authentication: "prebind",
    prebind_url: "/prebind?user=alice",
    bosh_service_url: cfg.bosh,
    jid: a.jid,
    auto_login: true,
    keepalive: false,
  });
  const resp = await prebound;
  const session = { status: resp.status(), ...(await resp.json()) };
  await alice.waitForSelector("converse-roster");

  await openChat(alice, b.jid);
  await say(alice, b.jid, "attached to a session boshd prebound");
  const atBob = await bob.evaluate(() => xmpp.waitFor("attached to a session boshd prebound"));
  await bob.evaluate(([to]) => xmpp.send(to, "got it"), [a.jid]);
  const texts = await shown(alice, b.jid, "got it");
  return { session, first: sent[0], atBob, texts };
}
