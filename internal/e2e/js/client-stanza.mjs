// client-stanza.mjs drives StanzaJS (npm "stanza", unmodified) in Node
// for the client suite (clients_test.go): it reads one JSON command a
// line on stdin and prints one JSON event a line on stdout, "EVENT {…}".
// The Go test decides the steps; this file only maps them onto StanzaJS's
// API. Anything else it prints is a log.
import * as readline from "node:readline";
import * as XMPP from "stanza";

const emit = (ev) => console.log("EVENT " + JSON.stringify(ev));
const fail = (op, e) => emit({ ev: "error", op, message: String(e && e.stack ? e.stack : e) });
let client;

const ops = {
  login(cmd) {
    client = XMPP.createClient({
      jid: cmd.jid,
      password: cmd.password,
      resource: "stanza",
      transports: { websocket: false, bosh: cmd.url }, // asks wait=30; the targets cap it
    });
    // cmd.mechanisms, when given, are the only SASL mechanisms it may use.
    for (const m of cmd.mechanisms ? client.sasl.mechanisms.map((x) => x.name) : []) {
      if (!cmd.mechanisms.includes(m)) client.sasl.disable(m);
    }
    client.on("session:started", async () => {
      try {
        await client.getRoster(); // RFC 6121 §2.1.3, before presence
        client.sendPresence();
        emit({ ev: "online", jid: client.jid });
      } catch (e) {
        fail("login", e);
      }
    });
    client.on("subscribe", (p) => emit({ ev: "subscribe", from: p.from }));
    client.on("available", (p) => emit({ ev: "available", from: p.from }));
    client.on("chat", (m) => m.body && emit({ ev: "message", from: m.from, body: m.body }));
    client.on("stream:error", (e) => emit({ ev: "stream-error", error: e }));
    client.on("disconnected", () => emit({ ev: "disconnected" }));
    client.on("auth:failed", () => emit({ ev: "error", op: "login", message: "auth failed" }));
    client.connect();
  },
  async subscribe(cmd) {
    await client.updateRosterItem({ jid: cmd.jid });
    client.subscribe(cmd.jid);
    emit({ ev: "done", op: "subscribe" });
  },
  accept(cmd) {
    client.acceptSubscription(cmd.jid);
    emit({ ev: "done", op: "accept" });
  },
  async roster() {
    const r = await client.getRoster();
    emit({ ev: "roster", items: r.items.map((i) => i.jid) });
  },
  send(cmd) {
    client.sendMessage({ to: cmd.to, type: "chat", body: cmd.body });
    emit({ ev: "done", op: "send" });
  },
  async ping() {
    await client.ping(); // the server (XEP-0199 §4.2)
    emit({ ev: "pong" });
  },
  disconnect() {
    client.disconnect(); // a terminate request (XEP-0124 §13)
  },
};

const rl = readline.createInterface({ input: process.stdin });
rl.on("line", async (line) => {
  let cmd;
  try {
    cmd = JSON.parse(line);
    await ops[cmd.op](cmd);
  } catch (e) {
    fail(cmd && cmd.op, e);
  }
});
rl.on("close", () => process.exit(0));
