// Scenario 3 (converse.js part): a page reload with converse.js's session
// restore ('keepalive', on by default). alice chats with bob in
// converse.js; the page reloads; while the new page is on its way — the
// old page and its held request gone — bob sends a message and pings the
// server so that it is known to be routed. The new page restores the BOSH
// session on the next rid, shows that message in the chat, and alice
// answers.
import { login, openChat, openConverse, say, shown, stropheLogin } from "./conversepage.mjs";
import { holdReloadUntil, recordRequests } from "./requests.mjs";

export async function run(t) {
  const { cfg } = t;
  const a = cfg.users.alice, b = cfg.users.bob;
  const alice = await t.page("alice", { viewport: { width: 1000, height: 640 } });
  const sent = recordRequests(alice);
  const bob = await t.page("bob");
  await stropheLogin(t, bob, b);
  await openConverse(t, alice);
  await login(alice, a);
  await openChat(alice, b.jid);
  await say(alice, b.jid, "before reload");
  await bob.evaluate(() => xmpp.waitFor("before reload"));

  let sentBefore = 0;
  const script = cfg.pageOrigin + "/vendor/converse.js/dist/converse.min.js";
  const held = await holdReloadUntil(t, alice, script, () => {
    sentBefore = sent.length;
    return bob.evaluate(([to]) => { xmpp.send(to, "sent during reload"); return xmpp.ping(); }, [a.jid]);
  });
  await alice.reload();
  await alice.unroute(script);
  t.check(held(), "the reloaded page was not held back");
  await alice.evaluate((s) => startConverse(s), { bosh_service_url: cfg.bosh });
  // The chat stays open across the reload (converse.js keeps its state);
  // open it from the roster if it is not.
  const chat = alice.locator(`converse-chat[jid="${b.jid}"]`);
  if (!(await chat.isVisible())) await alice.click(`converse-roster-contact a.open-chat[data-jid="${b.jid}"]`);
  const texts = await shown(alice, b.jid, "sent during reload");
  await say(alice, b.jid, "after reload");
  const atBob = await bob.evaluate(() => xmpp.waitFor("after reload"));
  const screenshot = `${cfg.artifacts}/${cfg.extra.screenshot}`;
  await alice.screenshot({ path: screenshot });
  const old = sent.slice(0, sentBefore), restored = sent.slice(sentBefore);
  return {
    texts, atBob, screenshot,
    sidBefore: old.at(-1)?.sid, sidAfter: restored[0]?.sid, sidsAfter: [...new Set(restored.map((r) => r.sid))],
    lastRidBefore: old.at(-1)?.rid, firstRidAfter: restored[0]?.rid,
  };
}
