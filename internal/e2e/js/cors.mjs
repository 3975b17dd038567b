// Scenario 5: CORS with credentials. From the allowed origin
// (cfg.pageOrigin) Strophe.js sends every request withCredentials and the
// session works; from another origin (cfg.extra.otherOrigin) the browser
// refuses the requests, because boshd answers its preflight without
// Access-Control-Allow-Origin, and no session is created.
export async function run(t) {
  const { cfg } = t;
  const allowed = await t.page("allowed");
  await allowed.goto(cfg.pageOrigin + "/strophe.html");
  const u = cfg.users.alice;
  const jid = await allowed.evaluate(([bosh, jid, pw]) => xmpp.connect(bosh, jid, pw, { withCredentials: true }), [cfg.bosh, u.jid, u.password]);
  await allowed.evaluate(() => xmpp.ping());
  // A raw credentialed request as well: the browser only lets the page
  // read it when the response names the origin exactly and allows
  // credentials (never '*').
  const raw = await allowed.evaluate(async ([bosh]) => {
    const r = await fetch(bosh, {
      method: "POST", credentials: "include", headers: { "Content-Type": "text/xml; charset=utf-8" },
      body: "<body xmlns='http://jabber.org/protocol/httpbind' rid='1' sid='no-such-session'/>",
    });
    return { status: r.status, body: await r.text() };
  }, [cfg.bosh]);
  await allowed.evaluate(() => xmpp.disconnect());

  const other = await t.page("disallowed");
  await other.goto(cfg.extra.otherOrigin + "/strophe.html");
  const refusedFetch = await other.evaluate(async ([bosh]) => {
    try {
      await fetch(bosh, {
        method: "POST", credentials: "include", headers: { "Content-Type": "text/xml; charset=utf-8" },
        body: "<body xmlns='http://jabber.org/protocol/httpbind' rid='1' to='localhost' wait='60' hold='1' ver='1.6'/>",
      });
      return "allowed";
    } catch (e) {
      return "refused: " + e.message;
    }
  }, [cfg.bosh]);
  // Strophe retries a failed request with growing pauses; the first
  // refused request is the answer.
  const failed = other.waitForEvent("requestfailed");
  other.evaluate(([bosh, jid, pw]) => xmpp.connect(bosh, jid, pw, { withCredentials: true }), [cfg.bosh, u.jid, u.password]).catch(() => {});
  const refusedLogin = "refused: " + (await failed).failure()?.errorText;
  await other.close();
  return { jid, raw, refusedFetch, refusedLogin };
}
