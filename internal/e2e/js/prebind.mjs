// Scenario 4: prebind. examples/webchat is a host application with its
// own login; for a logged-in user its /prebind endpoint (package
// xmppstream/prebind) creates and authenticates a BOSH session and returns
// {jid, sid, rid}; converse.js (authentication: 'prebind') attaches to it.
// alice and bob log in through the site's form, each gets a prebound
// converse.js; alice adds bob as a contact, bob opens the chat from her
// contact request, and they exchange messages.
import { openChat, openChatFromRoster, say, shown } from "./conversepage.mjs";
import { recordRequests } from "./requests.mjs";

// enter logs user in through the site's form and waits for converse.js to
// be attached; it returns what /prebind answered and the first BOSH
// request the page sent.
async function enter(t, label, user) {
  const page = await t.page(label, { viewport: { width: 1000, height: 640 } });
  const sent = recordRequests(page);
  const prebound = page.waitForResponse((r) => new URL(r.url()).pathname === "/prebind");
  await page.goto(t.cfg.extra.site + "/");
  await page.fill('input[name="user"]', user.name);
  await page.fill('input[name="password"]', user.sitePassword);
  await page.click('button[type="submit"]');
  const resp = await prebound;
  const session = { status: resp.status(), ...(await resp.json()) };
  await page.waitForSelector("converse-roster");
  return { page, session, first: () => sent[0] };
}

export async function run(t) {
  const { cfg } = t;
  const users = cfg.extra.users;
  const alice = await enter(t, "alice", users.alice);
  const bob = await enter(t, "bob", users.bob);
  const aliceJID = alice.session.jid.split("/")[0], bobJID = bob.session.jid.split("/")[0];

  await openChat(alice.page, bobJID);
  await openChatFromRoster(bob.page, aliceJID); // alice's contact request
  await say(alice.page, bobJID, "Hello from a prebound session");
  const atBob = await shown(bob.page, aliceJID, "Hello from a prebound session");
  await say(bob.page, aliceJID, "Prebound here too");
  const atAlice = await shown(alice.page, bobJID, "Prebound here too");
  const screenshot = `${cfg.artifacts}/prebind.png`;
  await alice.page.screenshot({ path: screenshot });
  return {
    alice: alice.session, bob: bob.session,
    aliceFirst: alice.first(), bobFirst: bob.first(),
    atBob, atAlice, screenshot,
  };
}
