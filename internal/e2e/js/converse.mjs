// Scenario 2: converse.js's UI. alice logs in through converse.js's login
// form, opens a chat with bob through "Start a new chat", sends him a
// message and reads his answer in the chat; bob is a Strophe.js page. A
// screenshot of the chat is kept in cfg.artifacts.
import { login, openChat, openConverse, say, shown, stropheLogin } from "./conversepage.mjs";

export async function run(t) {
  const { cfg } = t;
  const a = cfg.users.alice, b = cfg.users.bob;
  const alice = await t.page("alice", { viewport: { width: 1000, height: 640 } });
  const bob = await t.page("bob");
  await stropheLogin(t, bob, b);
  await openConverse(t, alice);
  await login(alice, a);
  await openChat(alice, b.jid);

  await say(alice, b.jid, "Hi Bob, this is converse.js over httpbind");
  const atBob = await bob.evaluate(() => xmpp.waitFor("Hi Bob, this is converse.js over httpbind"));
  await bob.evaluate(([to]) => xmpp.send(to, "Hello Alice, Strophe.js here"), [a.jid]);
  const texts = await shown(alice, b.jid, "Hello Alice, Strophe.js here");
  const screenshot = `${cfg.artifacts}/${cfg.extra.screenshot}`;
  await alice.screenshot({ path: screenshot });
  return { atBob, texts, screenshot };
}
