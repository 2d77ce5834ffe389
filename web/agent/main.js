// @ts-check
/**
 * The agent desktop: sign-in, availability, incoming reservations, chats.
 * Privileged steps (accept = accept + join the chat, reject, wrap up,
 * complete, activity) go to /agent/desk/* with the session cookie; the
 * conversation and the worker's events come over the realtime socket with
 * the agent's access token (GET /agent/token, renewed before it expires).
 * Everything a visitor supplied is put in the page as text only (dom.js).
 */
import { ParleyClient } from "../sdk/parley.js";
import { h, clear } from "../widget/dom.js";

/** @typedef {Record<string, any>} Json */

const $ = (/** @type {string} */ id) => /** @type {HTMLElement} */ (document.getElementById(id));
const TITLE = "Parley agent desktop";

/** @type {{ me: Json|null, client: ParleyClient|null, activities: Json[], worker: Json|null,
 *   reservations: Map<string, Json>, chats: Map<string, Json>, selected: string, skew: number, canned: Json[] }} */
const state = { me: null, client: null, activities: [], worker: null, reservations: new Map(), chats: new Map(), selected: "", skew: 0,
  canned: [] };

// ---- HTTP -------------------------------------------------------------

/** The business's token endpoint (PARLEY_AGENT_TOKEN_URL), if agents sign in there instead. */
const TOKEN_URL = /** @type {HTMLMetaElement|null} */ (document.querySelector('meta[name="parley-agent-token-url"]'))?.content || "";

/** @param {string} path @param {Record<string,string>} [form] */
async function call(path, form) {
  /** @type {RequestInit} */
  const init = form ? { method: "POST", body: new URLSearchParams(form), credentials: "same-origin" } : { credentials: "same-origin" };
  // With a token from the business's backend, the token is the credential.
  if (TOKEN_URL && state.me) init.headers = { "X-Twilio-Token": state.me.token };
  const res = await fetch(path, init);
  const body = res.status === 204 ? {} : await res.json().catch(() => ({}));
  if (!res.ok) {
    const err = new Error(body.message || res.statusText);
    /** @type {any} */ (err).status = res.status;
    throw err;
  }
  return body;
}

async function fetchToken() {
  if (TOKEN_URL) return fetchBusinessToken();
  const t = await call("/agent/token");
  state.me = t;
  return t;
}

/** A token from the business's own backend; /agent/desk/me says whose it is. */
async function fetchBusinessToken() {
  const res = await fetch(TOKEN_URL, { credentials: "include" });
  const body = await res.json().catch(() => ({}));
  if (!res.ok || typeof body.token !== "string") throw new Error(`${TOKEN_URL} gave no token (HTTP ${res.status})`);
  state.me = { ...state.me, token: body.token };
  const me = await call("/agent/desk/me");
  state.me = { ...me, token: body.token };
  return state.me;
}

// ---- sign-in ----------------------------------------------------------

function showSignIn(message = "") {
  $("desk").hidden = true;
  $("signin").hidden = false;
  $("signin-error").textContent = message;
  /** @type {HTMLInputElement} */ ($("email")).focus();
}

async function onSignIn(/** @type {SubmitEvent} */ e) {
  e.preventDefault();
  const form = /** @type {HTMLFormElement} */ (e.target);
  const data = Object.fromEntries(new FormData(form).entries());
  try {
    await call("/agent", /** @type {Record<string,string>} */ (data));
    /** @type {HTMLInputElement} */ ($("password")).value = "";
    await startDesk(await fetchToken());
  } catch (err) {
    $("signin-error").textContent = /** @type {any} */ (err).status === 429
      ? "Too many failed attempts. Wait a few minutes and try again." : "The email or password is not correct.";
    /** @type {HTMLInputElement} */ ($("password")).select();
  }
}

async function signOut() {
  try { await call("/agent/signout", {}); } catch { /* the session may be gone already */ }
  location.reload();
}

// ---- desk -------------------------------------------------------------

/** @param {Json} tok */
async function startDesk(tok) {
  $("signin").hidden = true;
  $("desk").hidden = false;
  $("me").textContent = tok.agent.friendly_name + (tok.agent.role === "supervisor" ? " (supervisor)" : "");
  await loadActivities();
  loadCanned();
  const client = new ParleyClient({ url: location.origin, token: tok.token, getToken: async () => (await fetchToken()).token });
  state.client = client;
  client.on("connectionStateChanged", (/** @type {string} */ s) => {
    $("conn").textContent = s === "connected" ? "" : s;
    if (s === "connected") refreshReservations(); // worker events are not replayed after a reconnect
  });
  client.on("workerEvent", (/** @type {string} */ type) => {
    if (type.startsWith("reservation.") || type.startsWith("task.")) refreshReservations();
    if (type.startsWith("worker.")) loadActivities();
  });
  client.on("messageAdded", onMessage);
  client.on("typingStarted", (/** @type {string} */ who, /** @type {string} */ sid) => setTyping(sid, who, true));
  client.on("typingEnded", (/** @type {string} */ who, /** @type {string} */ sid) => setTyping(sid, who, false));
  client.on("memberUpdated", (/** @type {Json} */ _m, /** @type {string} */ sid) => {
    const chat = sid === state.selected && state.chats.get(sid);
    if (chat) renderLog(chat); // a read receipt
  });
  client.on("channelUpdated", (/** @type {Json} */ _c, /** @type {string} */ sid) => sid === state.selected && renderChat());
  await client.connect();
  await refreshReservations();
  setInterval(tick, 1000);
  setInterval(refreshReservations, 15000); // a safety net for a lost event
  if (tok.agent.role === "supervisor") {
    import("./supervisor.js").then((m) => m.start({ client, call, identity: tok.identity }))
      .catch((err) => console.error("supervisor view", err));
  }
}

async function loadActivities() {
  const r = await call("/agent/desk/activities");
  state.activities = r.activities;
  state.worker = r.worker;
  renderActivity();
}

function renderActivity() {
  const sel = /** @type {HTMLSelectElement} */ ($("activity"));
  clear(sel);
  for (const a of state.activities) {
    sel.append(h("option", { value: a.sid, selected: state.worker && a.sid === state.worker.activity_sid }, a.friendly_name));
  }
  const now = $("activity-now");
  now.textContent = state.worker ? state.worker.activity_name : "";
  now.className = "pill" + (state.worker && state.worker.available ? " available" : "");
}

async function setActivity() {
  const sel = /** @type {HTMLSelectElement} */ ($("activity"));
  try {
    state.worker = await call("/agent/desk/activity", { ActivitySid: sel.value });
  } catch (err) {
    alertBox(String(/** @type {any} */ (err).message));
  }
  renderActivity();
}

/** @param {string} text */
function alertBox(text) {
  $("conn").textContent = text;
}

// ---- reservations -----------------------------------------------------

let refreshing = Promise.resolve();

function refreshReservations() {
  refreshing = refreshing.catch((err) => console.error("refresh", err)).then(async () => {
    const r = await call("/agent/desk/reservations").catch((err) => {
      if (err.status === 401) {
        if (TOKEN_URL) fetchToken().catch((e) => alertBox(String(e.message))); // the token lapsed: get a new one
        else showSignIn("Your session ended. Sign in again.");
      }
      return null;
    });
    if (!r) return;
    state.skew = Date.now() - r.now_ms;
    const seen = new Set();
    for (const res of r.reservations) {
      seen.add(res.sid);
      res.attrs = parseJSON(res.task_attributes);
      state.reservations.set(res.sid, res);
      // A chat that cannot open now (the socket is down) opens on the next refresh.
      if (res.reservation_status !== "pending") await openChat(res).catch((err) => console.warn("open chat", res.sid, err));
    }
    for (const [sid, res] of state.reservations) {
      if (!seen.has(sid)) {
        state.reservations.delete(sid);
        closeChatOf(res);
      }
    }
    renderOffers();
    renderTabs();
    if (state.selected) renderSide();
  });
  return refreshing;
}

/** @param {string} s */
function parseJSON(s) {
  try { const v = JSON.parse(s || "{}"); return v && typeof v === "object" ? v : {}; } catch { return {}; }
}

/** The visitor's name as the task says it. @param {Json} attrs */
const visitorName = (attrs) => String(attrs.name || attrs.identity || "Visitor");

function pending() {
  return [...state.reservations.values()].filter((r) => r.reservation_status === "pending");
}

function renderOffers() {
  const box = $("incoming");
  const offers = pending();
  // Keep the cards that are still pending (so focus stays on a button).
  for (const card of [...box.children]) {
    if (!offers.some((r) => r.sid === /** @type {HTMLElement} */ (card).dataset.sid)) card.remove();
  }
  let fresh = false;
  for (const r of offers) {
    if (box.querySelector(`[data-sid="${r.sid}"]`)) continue;
    fresh = true;
    const name = visitorName(r.attrs);
    const card = h("article", { className: "offer", "data-sid": r.sid, "aria-label": "Incoming chat from " + name },
      h("h2", null, "Incoming chat: ", h("span", { className: "visitor-name" }, name)),
      h("dl", null,
        h("dt", null, "Queue"), h("dd", { className: "queue" }, r.task_queue_friendly_name || "—"),
        h("dt", null, "Waiting"), h("dd", { className: "waiting" }, ""),
        h("dt", null, "Answer within"), h("dd", { className: "countdown" }, ""),
        ...transferredFrom(r.attrs),
        ...details(r.attrs.pre_engagement_data)),
      h("div", { className: "actions" },
        h("button", { type: "button", className: "accept", "data-action": "accept" }, "Accept"),
        h("button", { type: "button", className: "reject secondary", "data-action": "reject" }, "Reject")));
    box.append(card);
  }
  if (fresh) chime();
  tick();
}

/** The "Transferred from" row of a transferred chat's task. @param {Json} attrs @returns {HTMLElement[]} */
function transferredFrom(attrs) {
  const from = attrs.transferredFrom;
  if (!from || typeof from !== "object") return [];
  return [h("dt", null, "Transferred from"), h("dd", { className: "transferred-from" }, String(from.agentName || from.workerSid || "another agent"))];
}

/** Definition-list rows for an object's fields, as text. @param {any} obj @returns {HTMLElement[]} */
function details(obj) {
  if (!obj || typeof obj !== "object") return [];
  const out = [];
  for (const [k, v] of Object.entries(obj)) {
    if (v === null || v === undefined || v === "") continue;
    out.push(h("dt", null, k), h("dd", null, typeof v === "object" ? JSON.stringify(v) : String(v)));
  }
  return out;
}

/** @param {number} ms */
function duration(ms) {
  const s = Math.max(0, Math.round(ms / 1000));
  return s < 60 ? `${s}s` : `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, "0")}s`;
}

function tick() {
  const now = Date.now() - state.skew;
  for (const card of /** @type {HTMLElement[]} */ ([...$("incoming").children])) {
    const r = state.reservations.get(card.dataset.sid || "");
    if (!r) continue;
    /** @type {HTMLElement} */ (card.querySelector(".waiting")).textContent = duration(now - r.task_created_ms);
    /** @type {HTMLElement} */ (card.querySelector(".countdown")).textContent = r.timeout_at_ms ? duration(r.timeout_at_ms - now) : "—";
  }
  const n = pending().length;
  const unread = [...state.chats.values()].reduce((sum, c) => sum + c.unread, 0);
  // The title blinks while a request waits, so it shows from another tab.
  document.title = n ? (Math.floor(now / 1000) % 2 ? `(${n}) Incoming chat` : `(${n}) ${TITLE}`)
    : unread ? `(${unread}) ${TITLE}` : TITLE;
}

/** @param {Event} e */
async function onOfferClick(e) {
  const btn = /** @type {HTMLElement} */ (e.target).closest("button[data-action]");
  const card = btn && /** @type {HTMLElement} */ (btn.closest(".offer"));
  if (!btn || !card) return;
  const sid = card.dataset.sid || "";
  const action = /** @type {HTMLElement} */ (btn).dataset.action;
  card.querySelectorAll("button").forEach((b) => { b.disabled = true; });
  try {
    const r = await call(`/agent/desk/reservations/${sid}/${action}`, {});
    if (action === "accept") {
      const res = { ...state.reservations.get(sid), ...r.reservation };
      res.attrs = parseJSON(res.task_attributes);
      state.reservations.set(sid, res);
      await openChat(res);
      select(r.channel_sid);
    }
  } catch (err) {
    alertBox(String(/** @type {any} */ (err).message));
  }
  await refreshReservations();
}

// ---- chats ------------------------------------------------------------

/**
 * Shows the chat of an accepted reservation: subscribes and loads its
 * history. A second call while the first is loading (the accept's answer
 * and a refresh on the reservation event race) waits for the same load.
 * @param {Json} res
 */
function openChat(res) {
  const sid = String(res.attrs.channelSid || "");
  if (!sid) return Promise.resolve();
  let chat = state.chats.get(sid);
  if (chat) { chat.res = res; return chat.ready; }
  chat = { sid, res, messages: [], unread: 0, typing: new Set(), closed: false, ready: Promise.resolve() };
  state.chats.set(sid, chat);
  chat.ready = loadChat(chat);
  return chat.ready;
}

/** @param {Json} chat */
async function loadChat(chat) {
  const sid = chat.sid;
  if (!chat.res.transfer) { // transferred away: the agent is no longer a member, only wrap-up is left
    const client = /** @type {ParleyClient} */ (state.client);
    try {
      await client.subscribe(sid);
      const history = await client.history(sid, { limit: 100 });
      for (const m of history) addMessage(chat, m, false);
    } catch (err) {
      // A socket that dropped mid-way must not leave a chat that never
      // fills: forget it, and the next refresh (on reconnect) opens it again.
      state.chats.delete(sid);
      throw err;
    }
  }
  if (!state.selected) select(sid);
  else if (state.selected === sid) renderChat();
  renderTabs();
}

/** @param {Json} res */
function closeChatOf(res) {
  const sid = res.attrs && res.attrs.channelSid;
  if (!sid || !state.chats.has(sid)) return;
  state.chats.delete(sid);
  if (state.client) state.client.unsubscribe(sid).catch(() => {});
  if (state.selected === sid) {
    state.selected = "";
    const next = state.chats.keys().next();
    if (!next.done) select(next.value); else renderEmpty();
  }
}

/** @param {Json} chat @param {Json} m @param {boolean} live */
function addMessage(chat, m, live) {
  if (chat.messages.some((/** @type {Json} */ x) => x.index === m.index)) return;
  chat.messages.push(m);
  chat.messages.sort((/** @type {Json} */ a, /** @type {Json} */ b) => a.index - b.index);
  const mine = state.me && m.from === state.me.identity;
  if (live && !mine && (state.selected !== chat.sid || document.hidden)) chat.unread++;
}

/** @param {Json} m @param {string} sid */
function onMessage(m, sid) {
  const chat = state.chats.get(sid);
  if (!chat) return;
  addMessage(chat, m, true);
  chat.typing.delete(m.from);
  if (sid === state.selected) { renderLog(chat); markRead(chat); }
  renderTabs();
}

/** @param {Json} chat */
function markRead(chat) {
  const last = chat.messages[chat.messages.length - 1];
  if (last && state.client && !document.hidden) state.client.read(chat.sid, last.index).catch(() => {});
  chat.unread = 0;
}

/** @param {string} sid @param {string} who @param {boolean} on */
function setTyping(sid, who, on) {
  const chat = state.chats.get(sid);
  if (!chat || (state.me && who === state.me.identity)) return;
  if (on) chat.typing.add(who); else chat.typing.delete(who);
  if (sid === state.selected) renderTyping(chat);
}

/** @param {string} sid */
function select(sid) {
  state.selected = sid;
  const chat = state.chats.get(sid);
  if (!chat) return;
  markRead(chat);
  renderTabs();
  renderChat();
  renderSide();
}

function renderTabs() {
  const ul = $("tabs");
  clear(ul);
  for (const chat of state.chats.values()) {
    const selected = chat.sid === state.selected;
    const tab = h("button", { type: "button", role: "tab", "aria-selected": String(selected), "data-sid": chat.sid },
      h("span", null, h("span", { className: "tab-name" }, visitorName(chat.res.attrs)), h("br"),
        h("span", { className: "state" }, lifecycleLabel(chat.res))),
      chat.unread ? h("span", { className: "badge", "aria-label": `${chat.unread} unread` }, chat.unread) : null);
    tab.addEventListener("click", () => select(chat.sid));
    ul.append(h("li", null, tab));
  }
  tick();
}

/** @param {Json} res */
function lifecycleLabel(res) {
  if (res.transfer) return "transferred";
  return res.reservation_status === "wrapping" ? "wrapping up" : res.reservation_status;
}

function renderEmpty() {
  clear($("chat"));
  $("chat").append(h("p", { className: "empty" }, "No chat selected."));
  clear($("visitor"));
  renderTabs();
}

function renderChat() {
  const chat = state.chats.get(state.selected);
  if (!chat) return;
  const box = $("chat");
  const draft = /** @type {HTMLTextAreaElement|null} */ (box.querySelector("textarea"));
  const hadFocus = draft && document.activeElement === draft;
  const text = draft ? draft.value : "";
  clear(box);
  const wrapping = chat.res.reservation_status === "wrapping";
  const transfer = chat.res.transfer;
  const closed = wrapping || !!transfer;
  const log = h("div", { className: "log", role: "log", "aria-live": "polite", "aria-label": "Messages" });
  fillLog(chat, log);
  const input = h("textarea", { rows: 2, "aria-label": "Reply", disabled: closed, value: text });
  input.addEventListener("keydown", (/** @type {KeyboardEvent} */ e) => {
    if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); sendDraft(chat, /** @type {HTMLTextAreaElement} */ (input)); }
  });
  input.addEventListener("input", () => state.client && state.client.typing(chat.sid));
  const send = h("button", { type: "button", className: "send", disabled: closed }, "Send");
  send.addEventListener("click", () => sendDraft(chat, /** @type {HTMLTextAreaElement} */ (input)));
  const canned = h("button", { type: "button", className: "canned secondary", disabled: closed, "aria-haspopup": "dialog",
    title: "Insert a canned response" }, "Canned");
  canned.addEventListener("click", () => openCanned(chat));
  const transferBtn = chat.res.reservation_status === "accepted" && !transfer
    ? h("button", { type: "button", className: "transfer secondary", "aria-haspopup": "dialog" }, "Transfer") : null;
  if (transferBtn) transferBtn.addEventListener("click", () => openTransfer(chat));
  const step = wrapping ? h("button", { type: "button", className: "complete" }, "Complete")
    : h("button", { type: "button", className: "wrapup danger" }, "End chat & wrap up");
  step.addEventListener("click", () => advance(chat, wrapping ? "complete" : "wrapup"));
  box.append(h("div", { className: "head" }, h("strong", { className: "grow" }, visitorName(chat.res.attrs)), transferBtn, step));
  if (transfer) {
    box.append(h("p", { className: "transferred", role: "status" }, `Transferred to ${transfer.target_name}. `,
      "You have left this chat; complete it when your notes are done."));
  }
  box.append(log, h("div", { className: "typing", "aria-live": "polite" }), h("div", { className: "compose" }, input, canned, send));
  renderTyping(chat);
  log.scrollTop = log.scrollHeight;
  if (hadFocus) input.focus();
}

/** The open chat's messages and read receipt, redrawn alone: a new
 * message or receipt leaves the draft (its caret, an IME composition)
 * and the buttons untouched. @param {Json} chat */
function renderLog(chat) {
  const log = /** @type {HTMLElement|null} */ ($("chat").querySelector(".log"));
  if (!log) return renderChat();
  fillLog(chat, log);
  log.scrollTop = log.scrollHeight;
}

/** @param {Json} chat @param {HTMLElement} log */
function fillLog(chat, log) {
  clear(log);
  const visitorRead = readHorizon(chat.sid);
  const mine = chat.messages.filter((/** @type {Json} */ m) => state.me && m.from === state.me.identity);
  const lastMine = mine.length ? mine[mine.length - 1].index : -1;
  for (const m of chat.messages) {
    const own = state.me && m.from === state.me.identity;
    log.append(h("div", { className: "msg" + (own ? " mine" : ""), "data-index": m.index },
      h("span", { className: "meta" }, own ? "You" : visitorName(chat.res.attrs)),
      h("span", { className: "body" }, String(m.body || "")),
      own && m.index === lastMine && visitorRead >= m.index ? h("span", { className: "meta read" }, "Read") : null));
  }
}

/** The visitor's read horizon in the channel. @param {string} sid */
function readHorizon(sid) {
  const ch = state.client && state.client.channels.get(sid);
  let best = -1;
  for (const m of (ch && ch.members) || []) {
    if (state.me && m.identity === state.me.identity) continue;
    if (typeof m.last_consumed_message_index === "number") best = Math.max(best, m.last_consumed_message_index);
  }
  return best;
}

/** @param {Json} chat */
function renderTyping(chat) {
  const el = $("chat").querySelector(".typing");
  if (el) el.textContent = chat.typing.size ? `${visitorName(chat.res.attrs)} is typing…` : "";
}

/** @param {Json} chat @param {HTMLTextAreaElement} input */
async function sendDraft(chat, input) {
  const body = input.value.trim();
  if (!body || !state.client) return;
  input.value = "";
  state.client.typingEnded(chat.sid);
  try {
    const r = await state.client.send(chat.sid, body);
    addMessage(chat, r.message, false);
    if (chat.sid === state.selected) renderLog(chat);
  } catch (err) {
    input.value = body;
    alertBox(String(/** @type {any} */ (err).message));
  }
}

/** @param {Json} chat @param {"wrapup"|"complete"} action */
async function advance(chat, action) {
  try {
    const r = await call(`/agent/desk/reservations/${chat.res.sid}/${action}`, {});
    chat.res = { ...chat.res, ...r.reservation, attrs: chat.res.attrs };
    state.reservations.set(chat.res.sid, chat.res);
  } catch (err) {
    alertBox(String(/** @type {any} */ (err).message));
  }
  await refreshReservations();
  if (state.selected === chat.sid) { renderChat(); renderSide(); }
}

function renderSide() {
  const chat = state.chats.get(state.selected);
  const side = $("visitor");
  clear(side);
  if (!chat) return;
  const a = chat.res.attrs;
  const steps = ["reserved", "accepted", "wrapping", "completed"];
  const at = steps.indexOf(chat.res.reservation_status === "pending" ? "reserved" : chat.res.reservation_status);
  side.append(
    h("h2", null, visitorName(a)),
    h("dl", null, h("dt", null, "Queue"), h("dd", null, chat.res.task_queue_friendly_name || "—"),
      h("dt", null, "Task"), h("dd", null, chat.res.task_sid), ...transferredFrom(a),
      ...(chat.res.transfer ? [h("dt", null, "Transferred to"), h("dd", null, String(chat.res.transfer.target_name))] : []),
      ...details(a.context)),
    h("h2", null, "Pre-engagement"),
    h("dl", { className: "pre" }, ...details(a.pre_engagement_data)),
    h("h2", null, "Task lifecycle"),
    h("ol", { className: "lifecycle" }, ...steps.map((s, i) => h("li", { className: i <= at ? "done" : "" }, (i <= at ? "✓ " : "○ ") + s))));
}

// ---- transfer ---------------------------------------------------------

/** The chat the transfer dialog is for. */
let transferFor = "";

/** Opens the transfer dialog: queues and the other agents, as one radio group. @param {Json} chat */
async function openTransfer(chat) {
  transferFor = chat.sid;
  let r;
  try {
    r = await call("/agent/desk/transfer-targets");
  } catch (err) {
    alertBox(String(/** @type {any} */ (err).message));
    return;
  }
  const box = $("transfer-targets");
  clear(box);
  $("transfer-error").textContent = "";
  /** @param {Json} t @param {string} label @param {boolean} off */
  const option = (t, label, off) => h("label", { className: off ? "unavailable" : "" },
    h("input", { type: "radio", name: "target", value: t.sid, disabled: off, "data-type": t.type }), label);
  const queues = r.targets.filter((/** @type {Json} */ t) => t.type === "queue");
  const agents = r.targets.filter((/** @type {Json} */ t) => t.type === "worker");
  box.append(
    h("fieldset", null, h("legend", null, "Queues"),
      ...(queues.length ? queues.map((/** @type {Json} */ q) => option(q, q.friendly_name, false)) : [h("p", { className: "hint" }, "No queues.")])),
    h("fieldset", null, h("legend", null, "Agents"),
      ...(agents.length ? agents.map((/** @type {Json} */ a) => option(a, `${a.friendly_name} (${a.activity_name})`, !a.available))
        : [h("p", { className: "hint" }, "No other agents.")])));
  const dlg = /** @type {HTMLDialogElement} */ ($("transfer-dialog"));
  if (!dlg.open) dlg.showModal();
  const first = /** @type {HTMLInputElement|null} */ (box.querySelector("input:not([disabled])"));
  if (first) { first.checked = true; first.focus(); }
}

/** @param {SubmitEvent} e */
async function onTransfer(e) {
  e.preventDefault();
  const chat = state.chats.get(transferFor);
  const picked = /** @type {HTMLInputElement|null} */ ($("transfer-form").querySelector("input[name=target]:checked"));
  if (!chat || !picked) {
    $("transfer-error").textContent = "Choose a queue or an available agent.";
    return;
  }
  const btn = /** @type {HTMLButtonElement} */ ($("transfer-form").querySelector(".do-transfer"));
  btn.disabled = true;
  try {
    const r = await call(`/agent/desk/reservations/${chat.res.sid}/transfer`, { TargetSid: picked.value });
    chat.res = { ...chat.res, ...r.reservation, attrs: chat.res.attrs };
    state.reservations.set(chat.res.sid, chat.res);
    chat.typing.clear();
    /** @type {HTMLDialogElement} */ ($("transfer-dialog")).close();
    if (state.client) state.client.unsubscribe(chat.sid).catch(() => {});
    select(chat.sid);
    const next = /** @type {HTMLElement|null} */ ($("chat").querySelector(".complete, .wrapup"));
    if (next) next.focus();
  } catch (err) {
    $("transfer-error").textContent = String(/** @type {any} */ (err).message);
  } finally {
    btn.disabled = false;
  }
}

// ---- canned responses ---------------------------------------------------

/** The chat the canned-response picker inserts into. */
let cannedFor = "";

async function loadCanned() {
  try {
    state.canned = (await call("/agent/desk/canned-responses")).canned_responses || [];
  } catch {
    state.canned = [];
  }
}

/** @param {Json} chat */
async function openCanned(chat) {
  cannedFor = chat.sid;
  await loadCanned(); // an admin may have added some since
  const filter = /** @type {HTMLInputElement} */ ($("canned-filter"));
  filter.value = "";
  renderCanned();
  const dlg = /** @type {HTMLDialogElement} */ ($("canned-dialog"));
  if (!dlg.open) dlg.showModal();
  filter.focus();
}

function cannedMatches() {
  const q = /** @type {HTMLInputElement} */ ($("canned-filter")).value.trim().toLowerCase();
  return state.canned.filter((c) => !q || `${c.friendly_name} ${c.category} ${c.body}`.toLowerCase().includes(q));
}

function renderCanned() {
  const list = $("canned-list");
  clear(list);
  const rows = cannedMatches();
  if (!rows.length) {
    list.append(h("p", { className: "hint" }, state.canned.length ? "Nothing matches." : "No canned responses yet (an admin adds them)."));
    return;
  }
  let category = "";
  for (const c of rows) {
    if (c.category && c.category !== category) list.append(h("h3", null, c.category));
    category = c.category;
    const b = h("button", { type: "button", "data-sid": c.sid }, h("span", { className: "name" }, c.friendly_name),
      h("span", { className: "preview" }, c.body));
    b.addEventListener("click", () => insertCanned(c));
    list.append(b);
  }
}

/** Puts the body into the draft at the caret, for the agent to edit and send. @param {Json} c */
function insertCanned(c) {
  /** @type {HTMLDialogElement} */ ($("canned-dialog")).close();
  const chat = state.chats.get(cannedFor);
  if (!chat) return;
  if (state.selected !== chat.sid) select(chat.sid);
  const input = /** @type {HTMLTextAreaElement|null} */ ($("chat").querySelector("textarea"));
  if (!input || input.disabled) return;
  input.setRangeText(String(c.body), input.selectionStart, input.selectionEnd, "end");
  input.focus();
  if (state.client) state.client.typing(chat.sid);
}

// ---- sound --------------------------------------------------------------

const SOUND_KEY = "parley.agent.sound";
/** On unless the agent turned it off (kept in localStorage). */
let soundOn = (() => { try { return localStorage.getItem(SOUND_KEY) !== "off"; } catch { return true; } })();
/** @type {AudioContext|null} */
let audio = null;

function renderSound() {
  const b = $("sound");
  b.setAttribute("aria-pressed", String(soundOn));
  b.textContent = soundOn ? "Sound on" : "Sound off";
}

function toggleSound() {
  soundOn = !soundOn;
  try { localStorage.setItem(SOUND_KEY, soundOn ? "on" : "off"); } catch { /* storage off: this page only */ }
  renderSound();
  if (soundOn) audioContext(); // a click is the gesture browsers want before sound
}

/** The page's one AudioContext, resumed (browsers start it suspended without a gesture). */
function audioContext() {
  const Ctx = window.AudioContext || /** @type {any} */ (window).webkitAudioContext;
  if (!Ctx) return null;
  if (!audio) audio = new Ctx();
  if (audio.state === "suspended") audio.resume().catch(() => {});
  return audio;
}

/** Two short rising tones for an incoming request: an oscillator, no audio file. */
function chime() {
  if (!soundOn) return;
  const ctx = audioContext();
  if (!ctx) return;
  const t0 = ctx.currentTime + 0.01;
  [880, 1175].forEach((freq, i) => {
    const osc = ctx.createOscillator();
    const gain = ctx.createGain();
    const at = t0 + i * 0.18;
    osc.type = "sine";
    osc.frequency.value = freq;
    gain.gain.setValueAtTime(0.0001, at);
    gain.gain.exponentialRampToValueAtTime(0.2, at + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, at + 0.16);
    osc.connect(gain).connect(ctx.destination);
    osc.start(at);
    osc.stop(at + 0.17);
  });
}

// ---- start ------------------------------------------------------------

async function boot() {
  $("signin-form").addEventListener("submit", onSignIn);
  $("signout").addEventListener("click", signOut);
  $("activity").addEventListener("change", setActivity);
  $("incoming").addEventListener("click", onOfferClick);
  $("sound").addEventListener("click", toggleSound);
  renderSound();
  // The first key or click on the page lets the chime play later.
  for (const ev of ["pointerdown", "keydown"]) document.addEventListener(ev, () => soundOn && audioContext(), { once: true });
  $("transfer-form").addEventListener("submit", onTransfer);
  for (const dlg of [$("transfer-dialog"), $("canned-dialog")]) {
    /** @type {HTMLElement} */ (dlg.querySelector(".cancel")).addEventListener("click", () => /** @type {HTMLDialogElement} */ (dlg).close());
  }
  $("canned-filter").addEventListener("input", renderCanned);
  $("canned-filter").addEventListener("keydown", (e) => {
    if (/** @type {KeyboardEvent} */ (e).key !== "Enter") return;
    e.preventDefault();
    const first = cannedMatches()[0];
    if (first) insertCanned(first);
  });
  document.addEventListener("visibilitychange", () => {
    const chat = state.chats.get(state.selected);
    if (chat && !document.hidden) { markRead(chat); renderTabs(); }
  });
  let tok;
  try {
    tok = await fetchToken();
  } catch (err) {
    if (!TOKEN_URL) return showSignIn();
    $("signin").hidden = false;
    $("signin-form").hidden = true;
    $("signin-error").textContent = "The desktop could not get your access token: " + String(/** @type {any} */ (err).message);
    return;
  }
  if (TOKEN_URL) $("signout").hidden = true; // the business's site signs agents out
  await startDesk(tok);
}

boot();
