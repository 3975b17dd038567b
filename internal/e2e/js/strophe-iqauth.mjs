// Scenario: Strophe.js with non-SASL authentication (XEP-0078). boshd
// offers no SASL mechanism, only the iq-auth stream feature
// (-non-sasl-auth only), so Strophe falls back to jabber:iq:auth: a get
// for the fields, then a set with username, plain-text password and
// resource. boshd takes a plain-text password only over TLS, so the BOSH
// endpoint is HTTPS with a certificate of the test's own (the contexts
// ignore certificate errors). alice and bob exchange messages both ways
// and disconnect cleanly (XEP-0124 §13).
export async function run(t) {
  const { cfg } = t;
  const [alice, bob] = await Promise.all([
    t.page("alice", { ignoreHTTPSErrors: true }),
    t.page("bob", { ignoreHTTPSErrors: true }),
  ]);
  // What alice's page sends, to tell which login Strophe used.
  const sent = [];
  alice.on("request", (r) => {
    if (r.method() === "POST" && r.url() === cfg.bosh) sent.push(r.postData() || "");
  });
  // The protocol of each of alice's BOSH responses, as Chromium
  // negotiated it (DevTools protocol: Network.responseReceived).
  const protocols = [];
  const cdp = await alice.context().newCDPSession(alice);
  await cdp.send("Network.enable");
  cdp.on("Network.responseReceived", (e) => {
    if (e.response.url === cfg.bosh) protocols.push(e.response.protocol);
  });
  const url = cfg.pageOrigin + "/strophe.html";
  await Promise.all([alice.goto(url), bob.goto(url)]);
  const login = (page, u) => page.evaluate(([bosh, jid, pw]) => xmpp.connect(bosh, jid, pw), [cfg.bosh, u.jid, u.password]);
  const [aliceJID, bobJID] = await Promise.all([login(alice, cfg.users.alice), login(bob, cfg.users.bob)]);
  t.log(`bound ${aliceJID} and ${bobJID}`);

  await alice.evaluate(([to]) => xmpp.send(to, "hello bob, from alice"), [cfg.users.bob.jid]);
  const atBob = await bob.evaluate(() => xmpp.waitFor("hello bob, from alice"));
  await bob.evaluate(([to]) => xmpp.send(to, "hello alice, from bob"), [cfg.users.alice.jid]);
  const atAlice = await alice.evaluate(() => xmpp.waitFor("hello alice, from bob"));

  const statuses = await Promise.all([alice.evaluate(() => xmpp.disconnect()), bob.evaluate(() => xmpp.disconnect())]);
  const all = sent.join("\n");
  return {
    aliceJID, bobJID, atBob, atAlice, statuses, protocols,
    sentIQAuthGet: /<iq[^>]*type=["']get["'][^>]*>\s*<query xmlns=["']jabber:iq:auth["']/.test(all),
    sentIQAuthSet: /<iq[^>]*type=["']set["'][^>]*>\s*<query xmlns=["']jabber:iq:auth["']>.*<password>/.test(all),
    sentSASL: all.includes("urn:ietf:params:xml:ns:xmpp-sasl"),
  };
}
