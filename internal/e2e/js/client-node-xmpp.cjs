// client-node-xmpp.cjs drives node-xmpp-client (npm, unmodified) in Node
// for the client suite (clients_test.go): it reads one JSON command a line
// on stdin and prints one JSON event a line on stdout, "EVENT {…}".
// node-xmpp-client is a low-level library that hands the application raw
// stanzas: as an application on it does, this driver asks for the roster,
// answers pings and sends presence itself. Anything else it prints is a
// log.
"use strict";
const readline = require("node:readline");
const Client = require("node-xmpp-client");

const emit = (ev) => console.log("EVENT " + JSON.stringify(ev));
const NS_ROSTER = "jabber:iq:roster";
const NS_PING = "urn:xmpp:ping";
let client;
let nextID = 0;
const pending = new Map(); // iq id → function(stanza)

// iq sends an iq and resolves with its answer.
function iq(type, attrs, child) {
  const id = "nxc-" + ++nextID;
  const st = new Client.Stanza("iq", Object.assign({ type, id }, attrs));
  st.cnode(child);
  return new Promise((resolve, reject) => {
    pending.set(id, (answer) => (answer.attrs.type === "result" ? resolve(answer) : reject(new Error(answer.toString()))));
    client.send(st);
  });
}

function onStanza(st) {
  const from = st.attrs.from || "";
  if (st.is("iq")) {
    const answer = pending.get(st.attrs.id);
    if (answer && (st.attrs.type === "result" || st.attrs.type === "error")) {
      pending.delete(st.attrs.id);
      answer(st);
    } else if (st.attrs.type === "get" && st.getChild("ping", NS_PING)) {
      client.send(new Client.Stanza("iq", { type: "result", id: st.attrs.id, to: from })); // XEP-0199 §4.1
    } else if (st.attrs.type === "set" && st.getChild("query", NS_ROSTER)) {
      client.send(new Client.Stanza("iq", { type: "result", id: st.attrs.id })); // a roster push (RFC 6121 §2.1.6)
    }
  } else if (st.is("presence")) {
    const type = st.attrs.type || "available";
    if (type === "subscribe") emit({ ev: "subscribe", from });
    if (type === "available") emit({ ev: "available", from });
  } else if (st.is("message")) {
    const body = st.getChildText("body");
    if (body) emit({ ev: "message", from, body });
  }
}

const ops = {
  login(cmd) {
    client = new Client({
      jid: cmd.jid,
      password: cmd.password,
      preferred: "PLAIN",
      bosh: { url: cmd.url, wait: cmd.wait },
    });
    client.on("online", async (data) => {
      try {
        await iq("get", {}, new Client.Element("query", { xmlns: NS_ROSTER })); // RFC 6121 §2.1.3
        client.send(new Client.Stanza("presence", {}));
        emit({ ev: "online", jid: data.jid.toString() });
      } catch (e) {
        emit({ ev: "error", op: "login", message: String(e) });
      }
    });
    client.on("stanza", onStanza);
    client.on("error", (e) => emit({ ev: "error", message: String(e && e.stack ? e.stack : e) }));
    client.on("offline", () => emit({ ev: "disconnected" }));
  },
  async subscribe(cmd) {
    await iq("set", {}, new Client.Element("query", { xmlns: NS_ROSTER }).c("item", { jid: cmd.jid }).root());
    client.send(new Client.Stanza("presence", { to: cmd.jid, type: "subscribe" }));
    emit({ ev: "done", op: "subscribe" });
  },
  accept(cmd) {
    client.send(new Client.Stanza("presence", { to: cmd.jid, type: "subscribed" }));
    emit({ ev: "done", op: "accept" });
  },
  async roster() {
    const answer = await iq("get", {}, new Client.Element("query", { xmlns: NS_ROSTER }));
    const items = answer.getChild("query", NS_ROSTER).getChildren("item").map((i) => i.attrs.jid);
    emit({ ev: "roster", items });
  },
  send(cmd) {
    client.send(new Client.Stanza("message", { to: cmd.to, type: "chat" }).c("body").t(cmd.body).root());
    emit({ ev: "done", op: "send" });
  },
  async ping() {
    const domain = client.jid.domain;
    await iq("get", { to: domain }, new Client.Element("ping", { xmlns: NS_PING })); // XEP-0199 §4.2
    emit({ ev: "pong" });
  },
  disconnect() {
    client.end(); // a terminate request (XEP-0124 §13)
  },
};

const rl = readline.createInterface({ input: process.stdin });
rl.on("line", async (line) => {
  let cmd;
  try {
    cmd = JSON.parse(line);
    await ops[cmd.op](cmd);
  } catch (e) {
    emit({ ev: "error", op: cmd && cmd.op, message: String(e && e.stack ? e.stack : e) });
  }
});
rl.on("close", () => process.exit(0));
