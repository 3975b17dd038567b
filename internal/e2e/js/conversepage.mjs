// Helpers for the converse.js scenarios: converse.js's own UI, driven the
// way a user drives it.

// openConverse loads pages/converse.html and starts converse.js with
// settings.
export async function openConverse(t, page, settings = {}) {
  await page.goto(t.cfg.pageOrigin + "/converse.html");
  await page.evaluate((s) => startConverse(s), { bosh_service_url: t.cfg.bosh, ...settings });
}

// login fills in converse.js's login form and waits for the roster.
export async function login(page, user) {
  await page.fill('input[name="jid"]', user.jid);
  await page.fill('input[name="password"]', user.password);
  await page.click('form:has(input[name="password"]) [type="submit"]');
  await page.waitForSelector("converse-roster");
}

// openChat adds jid to the roster through the contacts menu's "Add a
// contact" dialog and opens the chat by clicking the contact. (converse.js
// 14's "Start a new chat" with someone outside the roster waits for the
// server's XEP-0191 blocklist, which neither the in-memory core nor the
// test Prosody offers, and never opens the chat.)
export async function openChat(page, jid) {
  await page.click("converse-dropdown.dropdown--contacts button.dropdown-toggle");
  await page.click("a.add-contact");
  const dialog = page.locator(".modal.show");
  await dialog.locator('input[name="jid"]').fill(jid);
  await dialog.locator('button[type="submit"]').click();
  await dialog.waitFor({ state: "hidden" });
  await openChatFromRoster(page, jid);
}

// openChatFromRoster opens the chat with jid by clicking its roster entry,
// once it is there: a contact, or someone asking to become one.
export async function openChatFromRoster(page, jid) {
  await page.click(`converse-roster-contact a.open-chat[data-jid="${jid}"]`);
  await chatTextarea(page, jid).waitFor();
}

// chatTextarea is the message box of the chat with jid.
function chatTextarea(page, jid) {
  return page.locator(`converse-chat[jid="${jid}"] textarea.chat-textarea`);
}

// say types text into the chat with jid and sends it with Enter.
export async function say(page, jid, text) {
  const box = chatTextarea(page, jid);
  await box.fill(text);
  await box.press("Enter");
}

// shown waits until the chat with jid shows a message with text and
// returns the texts of all its messages.
export async function shown(page, jid, text) {
  const chat = page.locator(`converse-chat[jid="${jid}"]`);
  await chat.locator(".chat-msg__text", { hasText: text }).first().waitFor();
  return chat.locator(".chat-msg__text").allInnerTexts();
}

// stropheLogin opens pages/strophe.html in page and logs user in: the
// other side of a conversation.
export async function stropheLogin(t, page, user) {
  await page.goto(t.cfg.pageOrigin + "/strophe.html");
  return page.evaluate(([bosh, jid, pw]) => xmpp.connect(bosh, jid, pw), [t.cfg.bosh, user.jid, user.password]);
}
