// Scenario 3 (Strophe.js part): a page reload in the middle of a session.
// alice's page uses Strophe's 'keepalive' (the session's jid, sid and next
// rid cached in sessionStorage). While the reloaded page is on its way —
// the old page is gone and its held request aborted, the new one not yet
// running — bob sends alice a message, and pings the server so that it is
// known to be routed. The new
// page restores the session on the next rid (Strophe's restore/attach) and
// must receive that message; then messages go both ways again.
import { holdReloadUntil, recordRequests } from "./requests.mjs";

export async function run(t) {
  const { cfg } = t;
  const [alice, bob] = await Promise.all([t.page("alice"), t.page("bob")]);
  const sent = recordRequests(alice);
  const url = cfg.pageOrigin + "/strophe.html";
  await Promise.all([alice.goto(url), bob.goto(url)]);
  const a = cfg.users.alice, b = cfg.users.bob;
  const [aliceJID] = await Promise.all([
    alice.evaluate(([bosh, jid, pw]) => xmpp.connect(bosh, jid, pw, { keepalive: true }), [cfg.bosh, a.jid, a.password]),
    bob.evaluate(([bosh, jid, pw]) => xmpp.connect(bosh, jid, pw), [cfg.bosh, b.jid, b.password]),
  ]);
  await alice.evaluate(([to]) => xmpp.send(to, "before reload"), [b.jid]);
  await bob.evaluate(() => xmpp.waitFor("before reload"));
  const before = await alice.evaluate(() => ({ sid: xmpp.conn._proto.sid }));
  let sentBefore = 0; // requests of the old page, counted once it is gone

  // The reload. The old page's held request is aborted when the new
  // document replaces it; the new document is then held back, before
  // Strophe.js loads, until bob's message is routed to alice's session,
  // which has no live request at that moment.
  const script = cfg.pageOrigin + "/vendor/strophe.js/dist/strophe.umd.min.js";
  const held = await holdReloadUntil(t, alice, script,
    () => {
      sentBefore = sent.length;
      return bob.evaluate(([to]) => { xmpp.send(to, "sent during reload"); return xmpp.ping(); }, [a.jid]);
    });
  await alice.reload();
  await alice.unroute(script);
  t.check(held(), "the reloaded page was not held back");
  const afterReloadReceived = await alice.evaluate(() => xmpp.received.length);

  const restoredJID = await alice.evaluate(([bosh, jid]) => xmpp.restore(bosh, jid), [cfg.bosh, a.jid]);
  const during = await alice.evaluate(() => xmpp.waitFor("sent during reload"));
  const after = await alice.evaluate(() => ({ sid: xmpp.conn._proto.sid, status: xmpp.status }));
  const ridsAfter = sent.slice(sentBefore).map((r) => r.rid);

  await alice.evaluate(([to]) => xmpp.send(to, "after reload"), [b.jid]);
  await bob.evaluate(() => xmpp.waitFor("after reload"));
  await Promise.all([alice.evaluate(() => xmpp.disconnect()), bob.evaluate(() => xmpp.disconnect())]);
  return {
    aliceJID, restoredJID, during, afterReloadReceived,
    sidBefore: before.sid, sidAfter: after.sid,
    lastRidBefore: sent[sentBefore - 1].rid, firstRidAfter: ridsAfter[0], statusAfter: after.status,
  };
}
