// run.mjs runs one browser scenario: node js/run.mjs <scenario>.
//
// The Go test (e2e_test.go) starts the servers and passes their addresses
// in the E2E environment variable (JSON, see Config in e2e_test.go). The
// scenario module js/<scenario>.mjs exports run(t), which drives headless
// Chromium through playwright-core and returns a result object. run.mjs
// prints it as one line "RESULT <json>" and exits 0, or prints the error,
// the pages' console and every BOSH request and response it saw, and exits
// 1. The whole run is bounded by cfg.timeoutMs.
import { chromium } from "playwright-core";

const cfg = JSON.parse(process.env.E2E || "{}");
const name = process.argv[2];
if (!name || !/^[a-z0-9-]+$/.test(name)) {
  console.error("usage: node js/run.mjs <scenario>");
  process.exit(2);
}

const traffic = []; // BOSH requests and responses, in the order seen
const pages = []; // [label, page] of every page opened
const consoleLines = [];
const t0 = Date.now();
const stamp = () => String(Date.now() - t0).padStart(6) + "ms";
const cut = (s) => (s && s.length > 1500 ? s.slice(0, 1500) + "…" : s || "");

// watch records a page's BOSH traffic and console under label.
function watch(page, label) {
  const isBOSH = (url) => cfg.boshPaths.some((p) => new URL(url).pathname === p);
  page.on("request", (r) => {
    if (isBOSH(r.url()) && r.method() === "POST") {
      traffic.push(`${stamp()} ${label} → ${r.url()} ${cut(r.postData())}`);
    }
  });
  page.on("response", async (r) => {
    if (!isBOSH(r.url()) || r.request().method() !== "POST") return;
    let body = "";
    try { body = await r.text(); } catch (e) { body = "(" + e.message + ")"; }
    traffic.push(`${stamp()} ${label} ← ${r.status()} ${cut(body)}`);
  });
  page.on("requestfailed", (r) => {
    if (isBOSH(r.url())) traffic.push(`${stamp()} ${label} ✗ ${r.url()} ${r.failure()?.errorText} ${cut(r.postData())}`);
  });
  page.on("console", (m) => consoleLines.push(`${stamp()} ${label} console.${m.type()}: ${m.text()}`));
  page.on("pageerror", (e) => consoleLines.push(`${stamp()} ${label} pageerror: ${e.message}`));
}

const browser = await chromium.launch({
  executablePath: cfg.chromium,
  headless: true,
  args: [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
  ],
});

// t is what a scenario gets.
const t = {
  cfg,
  browser,
  // page opens a new page in a fresh context (its own cookies and
  // sessionStorage) whose BOSH traffic is recorded under label.
  async page(label, contextOptions = {}) {
    const ctx = await browser.newContext(contextOptions);
    const page = await ctx.newPage();
    page.setDefaultTimeout(cfg.stepTimeoutMs || 15000);
    watch(page, label);
    pages.push([label, page]);
    return page;
  },
  watch,
  log: (s) => consoleLines.push(`${stamp()} scenario: ${s}`),
  // check throws with message unless cond holds.
  check(cond, message) {
    if (!cond) throw new Error(message);
  },
};

let timer;
try {
  const mod = await import(`./${name}.mjs`);
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`scenario ${name} did not finish within ${cfg.timeoutMs} ms`)), cfg.timeoutMs || 60000);
  });
  const result = await Promise.race([mod.run(t), timeout]);
  console.log("RESULT " + JSON.stringify(result ?? {}));
  if (cfg.verbose) {
    console.log(consoleLines.join("\n"));
    console.log("BOSH traffic:\n" + traffic.join("\n"));
  }
  clearTimeout(timer);
  await browser.close();
  process.exit(0);
} catch (e) {
  clearTimeout(timer);
  console.log(`FAIL ${name}: ${e && e.stack ? e.stack : e}`);
  for (const [label, page] of pages) {
    const path = `${cfg.artifacts}/failed-${name}-${label}.png`;
    if (await page.screenshot({ path, timeout: 5000 }).then(() => true, () => false)) console.log(`screenshot of ${label}: ${path}`);
  }
  console.log("console:\n" + consoleLines.join("\n"));
  console.log("BOSH traffic:\n" + traffic.join("\n"));
  await browser.close().catch(() => {});
  process.exit(1);
}
