// Scenario 1: Strophe.js across origins (CORS). The page comes from
// cfg.pageOrigin, the BOSH endpoint is cfg.bosh on another origin. alice
// logs in with SASL PLAIN, bob with SCRAM-SHA-1; they exchange messages
// both ways and disconnect cleanly (XEP-0124 §13).
export async function run(t) {
  const { cfg } = t;
  const [alice, bob] = await Promise.all([t.page("alice"), t.page("bob")]);
  await Promise.all([alice.goto(cfg.pageOrigin + "/strophe.html"), bob.goto(cfg.pageOrigin + "/strophe.html")]);
  const login = (page, u, mechanism) =>
    page.evaluate(([bosh, jid, pw, mechanism]) => xmpp.connect(bosh, jid, pw, { mechanism }), [cfg.bosh, u.jid, u.password, mechanism]);
  const [aliceJID, bobJID] = await Promise.all([
    login(alice, cfg.users.alice, "PLAIN"),
    login(bob, cfg.users.bob, "SCRAM-SHA-1"),
  ]);
  t.log(`bound ${aliceJID} and ${bobJID}`);

  await alice.evaluate(([to]) => xmpp.send(to, "hello bob, from alice"), [cfg.users.bob.jid]);
  const atBob = await bob.evaluate(() => xmpp.waitFor("hello bob, from alice"));
  await bob.evaluate(([to]) => xmpp.send(to, "hello alice, from bob"), [cfg.users.alice.jid]);
  const atAlice = await alice.evaluate(() => xmpp.waitFor("hello alice, from bob"));

  const statuses = await Promise.all([alice.evaluate(() => xmpp.disconnect()), bob.evaluate(() => xmpp.disconnect())]);
  return { aliceJID, bobJID, atBob, atAlice, statuses };
}
