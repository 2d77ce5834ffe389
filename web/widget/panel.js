// @ts-check
/**
 * The chat panel, loaded by webchat.js the first time it is needed. It
 * takes over the widget's shadow root: the pre-engagement form, the
 * conversation, the end of the chat (survey, transcript, a new chat).
 * Everything typed by a visitor or an agent is shown as text (see dom.js).
 */
import { Session } from "./session.js";
import { h, append, clear, linkify, fmt } from "./dom.js";
import { preEngagementForm } from "./form.js";
import { PANEL_CSS } from "./styles.js";

/** Every text the panel shows; each can be replaced with the `strings` option. */
export const DEFAULT_STRINGS = {
  title: "Chat with us",
  closePanel: "Close chat",
  loading: "Loading…",
  waiting: "We will be with you shortly.",
  chattingWith: "You are chatting with {name}",
  submit: "Start chat",
  starting: "Starting your chat…",
  startFailed: "We could not start the chat: {error}",
  formInvalid: "Please correct the {n} highlighted field(s).",
  fieldRequired: "{label} is required.",
  fieldEmail: "Enter an email address such as name@example.com.",
  fieldPhone: "Enter a phone number, digits only, optionally starting with +.",
  fieldPattern: "{label} is not in the expected format.",
  fieldLength: "{label} must be between {min} and {max} characters.",
  fieldMin: "{label} must be at least {min} characters.",
  fieldMax: "{label} must be at most {max} characters.",
  fieldCheck: "Please tick this box to continue.",
  formDescription: "Tell us a little about yourself and we will connect you with an agent.",
  nameLabel: "Your name",
  emailLabel: "Email",
  questionLabel: "How can we help?",
  messagesLabel: "Messages",
  inputLabel: "Type a message",
  inputPlaceholder: "Type a message…",
  send: "Send",
  endChat: "End chat",
  transcript: "Download transcript",
  transcriptFile: "chat-transcript.txt",
  agentJoined: "{name} joined the chat",
  agentLeft: "{name} left the chat",
  typing: "{name} is typing…",
  someone: "An agent",
  you: "You",
  sending: "Sending…",
  sent: "Sent",
  read: "Read",
  notSent: "Not sent: {error}",
  chatEnded: "The chat has ended.",
  newChat: "Start a new chat",
  surveyTitle: "How was your chat?",
  surveyRating: "Your rating",
  ratingOption: "{n} out of 5",
  surveyComment: "Anything else you want to tell us? (optional)",
  surveySubmit: "Send feedback",
  surveyThanks: "Thank you for your feedback.",
  reconnecting: "Connection lost. Reconnecting… What you write is sent once you are back online.",
  tokenProblem: "We could not keep your chat session active. Check your connection and try again.",
  tryAgain: "Try again",
  connectFailed: "The chat is not available right now. Please try again later.",
};

/** @param {any} w the loader's instance (options, root, emit, setUnread, close) */
export function mount(w) {
  return new Panel(w);
}

/** @param {string} s */
function parseJSON(s) {
  try { return JSON.parse(s); } catch { return null; }
}

/** A member's display name: its attributes' name, else its identity. @param {any} m */
function memberName(m) {
  const a = (m && typeof m.attributes === "string" ? parseJSON(m.attributes) : m && m.attributes) || {};
  return String(a.friendly_name || a.friendlyName || a.full_name || a.name || (m && m.identity) || "");
}

class Panel {
  /** @param {any} w */
  constructor(w) {
    this.w = w;
    const o = w.options;
    this.opts = o;
    this.strings = { ...DEFAULT_STRINGS, ...o.strings };
    /** @type {Map<number, HTMLElement>} message index -> its element */
    this.byIndex = new Map();
    /** @type {Map<string, {el: HTMLElement, body: string}>} client message id -> a message not acknowledged yet */
    this.pending = new Map();
    /** @type {any[]} */
    this.messages = [];
    /** @type {any[]} */
    this.members = [];
    this.readUpTo = -1;
    this.visible = false;
    this.view = "loading";
    this.ended = false;
    this.replaying = false; // open() is loading the history
    this.typingTimer = 0;
    this.build();
    this.session = new Session({ serverUrl: o.serverUrl, accountSid: o.accountSid, flexFlowSid: o.flexFlowSid,
      disableLocalStorage: o.disableLocalStorage, chatFriendlyName: o.chatFriendlyName, tokenRetryDelays: o.tokenRetryDelays }, (ev, ...a) => this.onSession(ev, ...a));
    this.start();
  }

  build() {
    const s = this.strings;
    const root = this.w.root;
    root.appendChild(h("style", {}, PANEL_CSS));
    this.title = h("h2", { id: "pw-title" }, s.title);
    this.sub = h("p", { className: "sub", id: "pw-sub" });
    const close = h("button", { type: "button", "aria-label": s.closePanel, title: s.closePanel }, "×");
    close.addEventListener("click", () => this.w.close());
    this.banner = h("p", { className: "banner", role: "status", hidden: true });
    this.body = h("div", { className: "body" });
    this.el = h("section", { className: "panel", id: "parley-panel", role: "dialog", "aria-modal": "false",
      "aria-labelledby": "pw-title", "aria-describedby": "pw-sub", hidden: true },
      h("div", { className: "head" }, h("div", { className: "heading" }, this.title, this.sub), close), this.banner, this.body);
    this.el.addEventListener("keydown", (ev) => { if (ev.key === "Escape") this.w.close(); });
    root.appendChild(this.el);
    this.setBody(h("p", { className: "pre" }, s.loading));
  }

  show() {
    this.visible = true;
    this.el.hidden = false;
    this.markRead();
    this.focusView();
  }

  hide() {
    this.visible = false;
    this.el.hidden = true;
  }

  focusView() {
    const target = this.view === "chat" ? this.input : this.body.querySelector("input,select,textarea,button");
    if (target && this.visible) /** @type {HTMLElement} */ (target).focus();
  }

  /** @param {Node} node */
  setBody(node) {
    clear(this.body);
    this.body.appendChild(node);
  }

  /** @param {string} text @param {{label: string, fn: () => void}} [action] */
  setBanner(text, action) {
    clear(this.banner);
    this.banner.hidden = !text;
    if (!text) return;
    append(this.banner, h("span", {}, text));
    if (action) {
      const b = h("button", { type: "button", className: "secondary" }, action.label);
      b.addEventListener("click", action.fn);
      this.banner.appendChild(b);
    }
  }

  /** The server's web chat configuration for the flow; what the page passed wins. */
  async loadServerConfig() {
    let cfg = {};
    try {
      cfg = (await this.session.request(`/flex-api/v1/FlexFlows/${this.opts.flexFlowSid}/WebChatConfiguration`, { method: "GET" })) || {};
    } catch { /* none: the page's options and the defaults apply */ }
    const c = /** @type {any} */ (cfg);
    this.strings = { ...DEFAULT_STRINGS, ...(c.strings || {}), ...(this.opts.pageStrings || {}) };
    if (c.colors) this.w.applyColors({ ...c.colors, ...(this.opts.colors || {}) });
    this.formConfig = this.opts.preEngagementConfig || c.pre_engagement_config || this.defaultForm();
    this.postConfig = this.opts.postEngagementConfig !== undefined ? this.opts.postEngagementConfig : c.post_engagement_config;
    this.title.textContent = this.strings.title;
  }

  defaultForm() {
    const s = this.strings;
    return { description: s.formDescription, submitLabel: s.submit, fields: [
      { label: s.nameLabel, type: "InputItem", attributes: { name: "friendlyName", type: "text", required: true, maxLength: 80 } },
      { label: s.emailLabel, type: "InputItem", attributes: { name: "email", type: "email" } },
      { label: s.questionLabel, type: "TextareaItem", attributes: { name: "question", rows: 3, maxLength: 2000 } },
    ] };
  }

  async start() {
    await this.loadServerConfig();
    const saved = this.session.load();
    try {
      if (saved.channelSid) return await this.resume(saved.channelSid);
    } catch (e) {
      this.session.forgetChannel();
    }
    this.showForm();
  }

  showForm() {
    this.view = "form";
    this.ended = false;
    this.setBanner("");
    if (this.opts.startEngagementOnInit || (this.formConfig && this.formConfig.disabled)) {
      this.startChat({}).catch((e) => this.failed(e));
      return;
    }
    this.setBody(preEngagementForm(this.formConfig, this.strings, (answers) => this.startChat(answers)));
    this.focusView();
  }

  /** @param {any} e */
  failed(e) {
    this.setBody(h("p", { className: "pre", role: "alert" }, this.strings.connectFailed));
    this.w.emit("error", e);
  }

  /** @param {Record<string, any>} answers */
  async startChat(answers) {
    const sid = await this.session.startChannel(answers, { ...(this.opts.context || {}) });
    this.w.emit("engagementStarted", sid);
    await this.open(sid);
    const first = typeof answers.question === "string" ? answers.question.trim() : "";
    if (first) this.send(first);
  }

  /** @param {string} sid */
  async resume(sid) {
    await this.open(sid);
    for (const p of this.session.load().pending || []) this.send(p.body, p.cmid);
  }

  /** Show the conversation and follow the channel, with its whole history. @param {string} sid */
  async open(sid) {
    this.sid = sid;
    this.showConversation();
    const client = await this.session.connect();
    this.wire(client);
    const known = client.channels.get(sid);
    if (!known) client.channels.set(sid, { sid, channel: null, members: [], lastIndex: -1, subscribed: true });
    // The history arrives message by message: receipts, the unread count
    // and the read horizon are brought up to date once, after it.
    this.replaying = true;
    try {
      if (client.state === "idle") await client.connect();
      else if (client.state !== "connected") await client.ready();
      else await client.subscribe(sid);
    } finally {
      this.replaying = false;
    }
    const st = client.channels.get(sid);
    if (!st || !st.subscribed) throw new Error("the conversation is no longer available");
    this.members = st.members || [];
    const me = this.members.find((m) => m.identity === this.session.identity);
    if (me && typeof me.last_consumed_message_index === "number") this.readUpTo = Math.max(this.readUpTo, me.last_consumed_message_index);
    this.updateAgent();
    this.updateReceipts();
    this.updateUnread();
    this.markRead();
    this.onChannel(st.channel, sid);
  }

  /** @param {any} client */
  wire(client) {
    if (this.wired) return;
    this.wired = true;
    const mine = (/** @type {string} */ sid) => sid === this.sid;
    client.on("messageAdded", (/** @type {any} */ m, /** @type {string} */ sid) => mine(sid) && this.addMessage(m));
    client.on("memberJoined", (/** @type {any} */ m, /** @type {string} */ sid) => mine(sid) && this.onMember(m, true));
    client.on("memberLeft", (/** @type {any} */ m, /** @type {string} */ sid) => mine(sid) && this.onMember(m, false));
    client.on("memberUpdated", (/** @type {any} */ m, /** @type {string} */ sid) => {
      if (!mine(sid)) return;
      this.members = this.members.map((x) => (x.identity === m.identity ? m : x));
      this.updateReceipts();
    });
    client.on("typingStarted", (/** @type {string} */ who, /** @type {string} */ sid) => mine(sid) && this.showTyping(who));
    client.on("typingEnded", (/** @type {string} */ who, /** @type {string} */ sid) => mine(sid) && this.showTyping(""));
    client.on("channelUpdated", (/** @type {any} */ ch, /** @type {string} */ sid) => mine(sid) && this.onChannel(ch, sid));
    client.on("unsubscribed", (/** @type {string} */ sid) => mine(sid) && this.endChat());
    client.on("connectionStateChanged", (/** @type {string} */ state, /** @type {any} */ detail) => {
      this.w.emit("connectionStateChanged", state);
      if (state === "connected") this.showTokenProblem();
      else if (state === "disconnected" && detail && detail.fatal) this.setBanner(this.strings.connectFailed);
      else if (state === "disconnected") this.setBanner(this.strings.reconnecting);
    });
  }

  /** @param {string} ev @param {...any} args */
  onSession(ev, ...args) {
    if (ev === "tokenRenewed") {
      this.w.emit("tokenRenewed", args[0]);
    } else if (ev === "tokenProblem") {
      this.tokenTrouble = args[0];
      this.showTokenProblem();
    } else if (ev === "storage") {
      // Another tab started or ended a chat.
      const saved = args[0];
      if (saved.channelSid && saved.channelSid !== this.sid) this.resume(saved.channelSid).catch(() => {});
    }
  }

  /** Say plainly when the session cannot be kept, with a way to try again. */
  showTokenProblem() {
    if (!this.tokenTrouble) return this.setBanner("");
    this.setBanner(this.strings.tokenProblem, { label: this.strings.tryAgain, fn: () => this.session.renewWithRetries() });
  }

  showConversation() {
    const s = this.strings;
    this.view = "chat";
    this.ended = false;
    this.byIndex.clear();
    this.pending.clear();
    this.messages = [];
    this.readUpTo = -1;
    this.lastAuthor = "";
    this.log = h("div", { className: "log", role: "log", "aria-live": "polite", "aria-label": s.messagesLabel, tabindex: "0" });
    this.typingEl = h("p", { className: "typing", "aria-live": "polite" });
    this.input = /** @type {HTMLTextAreaElement} */ (h("textarea", { id: "pw-input", rows: 1, placeholder: s.inputPlaceholder, maxlength: "32768" }));
    const form = h("form", { className: "composer" }, h("label", { htmlFor: "pw-input", className: "sr-only" }, s.inputLabel),
      this.input, h("button", { type: "submit", className: "primary" }, s.send));
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      const body = this.input.value.trim();
      if (!body) return;
      this.input.value = "";
      this.send(body);
    });
    this.input.addEventListener("keydown", (ev) => {
      if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing) {
        ev.preventDefault();
        form.requestSubmit();
      }
    });
    this.input.addEventListener("input", () => {
      const c = this.session.client;
      if (c && c.state === "connected" && this.sid) c.typing(this.sid);
    });
    const end = h("button", { type: "button" }, s.endChat);
    end.addEventListener("click", () => this.session.endChannel().then(() => this.endChat(), (e) => this.w.emit("error", e)));
    this.actions = h("div", { className: "actions" }, end, this.transcriptButton());
    this.composer = form;
    this.endedBox = h("div", { className: "ended", hidden: true });
    this.sub.textContent = s.waiting;
    this.title.textContent = s.title;
    this.scroller = h("div", { className: "scroll" }, this.log, this.endedBox);
    this.setBody(h("div", { className: "conv" }, this.scroller, this.typingEl, form, this.actions));
    this.focusView();
  }

  /** @param {string} [className] */
  transcriptButton(className) {
    if (this.opts.transcript === false) return null;
    const b = h("button", { type: "button", className }, this.strings.transcript);
    b.addEventListener("click", () => this.downloadTranscript());
    return b;
  }

  /** @param {string} text */
  system(text) {
    const li = h("div", { className: "msg system" }, text);
    this.log.appendChild(li);
    this.scroll();
    return li;
  }

  scroll() {
    if (this.scroller) this.scroller.scrollTop = this.scroller.scrollHeight;
  }

  /** @param {string} identity */
  nameOf(identity) {
    const m = this.members.find((x) => x.identity === identity);
    return m ? memberName(m) : identity;
  }

  /** A message from the server (live, replayed, or our own echoed). @param {any} m */
  addMessage(m) {
    if (this.byIndex.has(m.index)) return;
    const own = m.from === this.session.identity;
    if (own) {
      for (const [cmid, p] of this.pending) {
        if (p.body === m.body) {
          this.pending.delete(cmid);
          this.confirm(p.el, m);
          return;
        }
      }
    }
    this.messages.push(m);
    const el = this.messageEl(m, own ? "own" : m.from === "system" ? "system" : "agent");
    this.byIndex.set(m.index, el);
    this.log.appendChild(el);
    this.scroll();
    if (!own) {
      this.showTyping("");
      if (!this.replaying) { this.updateUnread(); this.markRead(); }
      this.w.emit("messageReceived", { body: m.body, from: m.from, index: m.index, dateCreated: m.date_created });
    }
    if (own && !this.replaying) this.updateReceipts(); // only an own message has a receipt to show
  }

  /** @param {HTMLElement} el @param {any} m */
  confirm(el, m) {
    if (this.byIndex.has(m.index)) { el.remove(); return; }
    el.dataset.index = String(m.index);
    this.byIndex.set(m.index, el);
    this.messages.push(m);
    const time = el.querySelector("time");
    if (time) setTime(time, m.date_created);
    this.updateReceipts();
    this.w.emit("messageSent", { body: m.body, index: m.index });
  }

  /** @param {any} m @param {"own"|"agent"|"system"} kind */
  messageEl(m, kind) {
    if (kind === "system") return h("div", { className: "msg system" }, m.body);
    const who = kind === "own" ? this.strings.you : this.nameOf(m.from);
    const time = h("time", {});
    setTime(/** @type {HTMLTimeElement} */ (time), m.date_created);
    const showAuthor = kind === "agent" && this.lastAuthor !== m.from;
    this.lastAuthor = m.from;
    return h("div", { className: "msg " + kind, "data-index": m.index === undefined ? null : m.index },
      showAuthor ? h("span", { className: "author" }, who) : h("span", { className: "sr-only" }, who),
      h("div", { className: "bubble" }, linkify(String(m.body || ""))),
      h("span", { className: "meta" }, time, kind === "own" ? h("span", { className: "status" }, m.index === undefined ? this.strings.sending : this.strings.sent) : null));
  }

  /** Send text, queued while offline and sent once. @param {string} body @param {string} [cmid] */
  send(body, cmid) {
    const c = this.session.client;
    if (!c || !this.sid || this.ended) return;
    cmid = cmid || (crypto.randomUUID ? crypto.randomUUID() : String(Math.random()).slice(2));
    if (this.pending.has(cmid)) return;
    this.session.addPending({ cmid, body });
    this.lastAuthor = this.session.identity;
    const el = this.messageEl({ body, from: this.session.identity, date_created: new Date().toISOString() }, "own");
    this.pending.set(cmid, { el, body });
    this.log.appendChild(el);
    this.scroll();
    c.typingEnded(this.sid);
    const sid = this.sid;
    c.send(sid, body, { clientMessageId: cmid }).then((/** @type {any} */ r) => {
      this.session.dropPending(cmid);
      const p = this.pending.get(cmid);
      this.pending.delete(cmid);
      if (p && sid === this.sid) this.confirm(p.el, r.message);
    }, (/** @type {any} */ e) => {
      this.session.dropPending(cmid);
      const status = el.querySelector(".status");
      if (status) status.textContent = fmt(this.strings.notSent, { error: e.message });
      this.w.emit("error", e);
    });
  }

  /** Own messages read by someone else say so. */
  updateReceipts() {
    const me = this.session.identity;
    let horizon = -1;
    for (const m of this.members) {
      if (m.identity !== me && typeof m.last_consumed_message_index === "number") horizon = Math.max(horizon, m.last_consumed_message_index);
    }
    for (const [index, el] of this.byIndex) {
      const status = el.querySelector(".status");
      if (!status) continue;
      const text = index <= horizon ? this.strings.read : this.strings.sent;
      if (status.textContent !== text) status.textContent = text;
    }
  }

  updateUnread() {
    const me = this.session.identity;
    const n = this.messages.filter((m) => m.from !== me && m.index > this.readUpTo).length;
    if (n !== this.w.unread && !this.w.isOpen) this.w.setUnread(n);
  }

  /** The visitor has seen everything shown: move the read horizon. */
  markRead() {
    const c = this.session.client;
    if (!this.visible || !c || c.state !== "connected" || !this.sid) return;
    const last = this.messages.reduce((a, m) => Math.max(a, m.index), -1);
    if (last <= this.readUpTo) return;
    this.readUpTo = last;
    c.read(this.sid, last).catch(() => { this.readUpTo = -1; });
  }

  /** @param {any} m @param {boolean} joined */
  onMember(m, joined) {
    if (joined) this.members = this.members.filter((x) => x.identity !== m.identity).concat([m]);
    else this.members = this.members.filter((x) => x.identity !== m.identity);
    if (m.identity === this.session.identity) return;
    this.system(fmt(joined ? this.strings.agentJoined : this.strings.agentLeft, { name: memberName(m) }));
    this.updateAgent();
  }

  updateAgent() {
    const agent = this.members.find((m) => m.identity !== this.session.identity);
    const text = agent ? fmt(this.strings.chattingWith, { name: memberName(agent) }) : this.strings.waiting;
    this.sub.textContent = text;
  }

  /** @param {string} identity "" hides the indicator */
  showTyping(identity) {
    clearTimeout(this.typingTimer);
    this.typingEl.textContent = identity ? fmt(this.strings.typing, { name: this.nameOf(identity) }) : "";
    if (identity) this.typingTimer = setTimeout(() => this.showTyping(""), 6000);
  }

  /** @param {any} ch @param {string} sid */
  onChannel(ch, sid) {
    if (!ch || sid !== this.sid) return;
    const attrs = parseJSON(ch.attributes || "{}") || {};
    if (attrs.status === "INACTIVE") this.endChat();
  }

  /** The chat is over: no more typing; a survey, the transcript, a new chat. */
  endChat() {
    if (this.ended || !this.sid) return;
    this.ended = true;
    const s = this.strings;
    this.showTyping("");
    this.composer.hidden = true;
    this.actions.hidden = true;
    this.system(s.chatEnded);
    this.sub.textContent = s.chatEnded;
    this.w.emit("engagementEnded", this.sid);
    const box = this.endedBox;
    clear(box);
    const note = h("p", { tabindex: "-1" }, s.chatEnded);
    box.appendChild(note);
    if (this.postConfig) box.appendChild(this.survey());
    const again = h("button", { type: "button", className: "primary" }, s.newChat);
    again.addEventListener("click", () => this.newChat());
    append(box, this.transcriptButton("secondary"), again);
    box.hidden = false;
    this.scroll();
    if (this.visible) note.focus();
  }

  survey() {
    const s = this.strings;
    const stars = [1, 2, 3, 4, 5].map((n) => h("label", {}, h("input", { type: "radio", name: "rating", value: String(n) }), " ", String(n),
      h("span", { className: "sr-only" }, " " + fmt(s.ratingOption, { n }))));
    const comment = /** @type {HTMLTextAreaElement} */ (h("textarea", { id: "pw-comment", rows: 2, maxlength: "2000" }));
    const status = h("p", { className: "form-status", role: "status" });
    const form = h("form", { className: "survey", "aria-label": s.surveyTitle },
      h("fieldset", {}, h("legend", {}, s.surveyRating), ...stars),
      h("label", { htmlFor: "pw-comment" }, s.surveyComment), comment, status,
      h("button", { type: "submit", className: "secondary" }, s.surveySubmit));
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const picked = /** @type {HTMLInputElement|null} */ (form.querySelector("input[name=rating]:checked"));
      try {
        await this.session.sendSurvey({ rating: picked ? Number(picked.value) : null, comment: comment.value.trim() });
        form.replaceWith(h("p", { role: "status" }, s.surveyThanks));
      } catch (e) {
        status.textContent = fmt(s.startFailed, { error: e instanceof Error ? e.message : String(e) });
      }
    });
    return form;
  }

  newChat() {
    const c = this.session.client;
    if (c && this.sid) c.unsubscribe(this.sid).catch(() => {});
    this.sid = "";
    this.members = [];
    this.session.forgetChannel();
    this.updateAgent();
    this.showForm();
  }

  downloadTranscript() {
    const lines = this.messages.slice().sort((a, b) => a.index - b.index).map((m) => {
      const who = m.from === this.session.identity ? this.strings.you : this.nameOf(m.from);
      return `[${m.date_created}] ${who}: ${m.body}`;
    });
    const url = URL.createObjectURL(new Blob([lines.join("\n") + "\n"], { type: "text/plain;charset=utf-8" }));
    const a = document.createElement("a");
    a.href = url;
    a.download = this.strings.transcriptFile;
    this.w.root.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  }
}

/** @param {HTMLTimeElement} el @param {string} iso */
function setTime(el, iso) {
  const d = new Date(iso);
  if (isNaN(d.getTime())) return;
  el.dateTime = d.toISOString();
  el.textContent = d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}
