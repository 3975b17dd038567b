// The endpoint page: a person who opens the BOSH URL (cfg.bosh) in a
// browser sees a short page saying what it is, the domains served, the
// version and how to point Strophe.js or converse.js at it, styled under
// the page's own Content-Security-Policy. A GET with a query (the script
// syntax of XEP-0252) gets the BOSH error instead. The screenshot is kept
// in cfg.artifacts.
export async function run(t) {
  const { cfg } = t;
  const page = await t.page("visitor");
  const refused = [];
  page.on("console", (m) => { if (m.type() === "error") refused.push(m.text()); });
  const res = await page.goto(cfg.bosh);
  const text = async (sel) => (await page.locator(sel).textContent()).trim();
  const seen = {
    status: res.status(),
    contentType: res.headers()["content-type"],
    title: await page.title(),
    heading: await text("h1"),
    what: await text("#what"),
    domains: await page.locator("#domains li").allTextContents(),
    url: await text("#url"),
    strophe: await text("#strophe"),
    converse: await text("#converse"),
    version: await text("#version"),
    // The inline style applies only if the policy allows it by its hash.
    fontFamily: await page.locator("body").evaluate((b) => getComputedStyle(b).fontFamily),
    scripts: await page.locator("script").count(),
  };
  const consoleErrors = [...refused];
  const screenshot = `${cfg.artifacts}/endpoint-page.png`;
  await page.screenshot({ path: screenshot, fullPage: true });

  const script = await page.goto(cfg.bosh + "?%3Cbody%20rid='1'%20to='localhost'%20xmlns='http://jabber.org/protocol/httpbind'/%3E");
  const scriptSyntax = { status: script.status(), body: await script.text() };
  return { ...seen, consoleErrors, screenshot, scriptSyntax };
}
