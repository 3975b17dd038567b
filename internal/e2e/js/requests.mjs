// recordRequests records the rid and sid of every BOSH request page sends,
// in order, from now on. It returns the live list.
export function recordRequests(page) {
  const sent = [];
  page.on("request", (r) => {
    if (r.method() !== "POST") return;
    const body = r.postData() || "";
    const rid = /\brid=["'](\d+)["']/.exec(body);
    if (!rid || !/http:\/\/jabber\.org\/protocol\/httpbind/.test(body)) return;
    const sid = /\bsid=["']([^"']+)["']/.exec(body);
    sent.push({ rid: Number(rid[1]), sid: sid ? sid[1] : "" });
  });
  return sent;
}

// holdReloadUntil arranges that when page reloads, the new document is
// held back before script loads until send() has run. The browser loads
// the new document's scripts only after the old document is gone, and with
// it any BOSH request it had open (aborted, its connection closed). It
// returns a function that reports whether that happened.
export async function holdReloadUntil(t, page, script, send) {
  let done = false;
  const onFailed = (r) => {
    if (r.url() === t.cfg.bosh) t.log(`old page's BOSH request ended: ${r.failure()?.errorText}`);
  };
  page.on("requestfailed", onFailed);
  await page.route(script, async (route) => {
    page.off("requestfailed", onFailed);
    await send();
    done = true;
    await route.continue();
  });
  return () => done;
}
