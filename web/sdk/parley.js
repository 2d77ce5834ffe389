// @ts-check
/**
 * Parley's realtime client SDK: a small ES module with no dependencies.
 * It speaks the protocol in docs/realtime-protocol.md.
 *
 *   import { ParleyClient } from "{parley}/static/{hash}/sdk/parley.js";
 *   const client = new ParleyClient({ url: "https://parley.example", token, getToken });
 *   client.on("messageAdded", (msg, channelSid) => render(msg));
 *   const { channels } = await client.connect();
 *   for (const sid of channels) await client.subscribe(sid);
 *   await client.send(sid, "Hello");
 *
 * What it does for you: reconnects with backoff and jitter; resumes every
 * subscribed channel from the last message index it has, so that each
 * message arrives once and in order; retries unacknowledged sends with the
 * same client message id (so a retry never makes a copy); answers the
 * server's heartbeats and notices a dead server; throttles typing; renews
 * the token through getToken when the server says it is about to expire.
 */

export const PROTOCOL_VERSION = 1;

/** Close codes after which reconnecting cannot help. */
const FATAL = new Set([4000, 4001, 4003, 4004]);
const TOKEN_EXPIRED = 4002;

/**
 * @typedef {{ code: number, status: number, message: string, more_info?: string, retry_after_ms?: number }} ParleyErrorBody
 * @typedef {Record<string, any>} Json
 * @typedef {{ sid: string, channel: Json|null, members: Json[], lastIndex: number, subscribed: boolean }} ChannelState
 * @typedef {{ url: string, token: string, getToken?: () => Promise<string>, resume?: Record<string, number>,
 *   minBackoffMs?: number, maxBackoffMs?: number, typingIntervalMs?: number, requestTimeoutMs?: number,
 *   WebSocket?: typeof WebSocket }} Options
 */

/** An error frame from the server, or a local failure with code 0. */
export class ParleyError extends Error {
  /** @param {ParleyErrorBody} body */
  constructor(body) {
    super(body.message);
    this.name = "ParleyError";
    this.code = body.code;
    this.status = body.status;
    this.retryAfterMs = body.retry_after_ms || 0;
  }
}

/** @param {string} url */
function socketURL(url) {
  const u = new URL(url, globalThis.location ? globalThis.location.href : undefined);
  if (u.protocol === "http:") u.protocol = "ws:";
  if (u.protocol === "https:") u.protocol = "wss:";
  if (!u.pathname.endsWith("/realtime/v1")) u.pathname = u.pathname.replace(/\/$/, "") + "/realtime/v1";
  return u.toString();
}

function randomId() {
  const c = globalThis.crypto;
  if (c && c.randomUUID) return c.randomUUID();
  return Math.random().toString(36).slice(2) + Date.now().toString(36);
}

/** @param {number} ms */
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export class ParleyClient {
  /** @param {Options} options */
  constructor(options) {
    this.url = socketURL(options.url);
    this.token = options.token;
    this.getToken = options.getToken;
    this.opts = { minBackoffMs: 250, maxBackoffMs: 30000, typingIntervalMs: 3000, requestTimeoutMs: 15000, ...options };
    /** @type {Map<string, ChannelState>} */
    this.channels = new Map();
    for (const [sid, last] of Object.entries(options.resume || {})) {
      this.channels.set(sid, { sid, channel: null, members: [], lastIndex: last, subscribed: true });
    }
    /** @type {"idle"|"connecting"|"connected"|"disconnected"|"closed"} */
    this.state = "idle";
    /** @type {Json|null} who the token says we are (identity, account_sid, service_sid, ...) */
    this.session = null;
    /** @type {WebSocket|null} */
    this.ws = null;
    /** @type {Map<string, {resolve: (v: any) => void, reject: (e: any) => void, timer: any}>} */
    this.requests = new Map();
    /** @type {Map<string, {channelSid: string, body: string, attributes?: string, resolve: (v: any) => void, reject: (e: any) => void, inFlight: boolean}>} */
    this.unacked = new Map();
    /** @type {Map<string, Set<Function>>} */
    this.listeners = new Map();
    /** @type {Map<string, number>} */
    this.typingSentAt = new Map();
    this.seq = 0;
    this.attempt = 0;
    this.heartbeatMs = 25000;
    /** @type {any} */ this.watchdog = null;
    /** @type {any} */ this.reconnectTimer = null;
    /** @type {Promise<Json>|null} */ this.connecting = null;
    /** @type {(() => void)|null} the reconnection scheduleReconnect is waiting to run */ this.retry = null;
    // The browser knows of a lost network before the heartbeat does: drop
    // the socket when it goes offline, and reconnect at once (not after the
    // backoff grown meanwhile) when it is back.
    this.onOffline = () => { const ws = this.ws; if (ws) { ws.close(); this.onClose(ws, 1006, "offline"); } };
    this.onOnline = () => {
      const retry = this.retry;
      if (!retry) return;
      clearTimeout(this.reconnectTimer);
      this.attempt = 0;
      retry();
    };
    if (typeof addEventListener === "function") {
      addEventListener("offline", this.onOffline);
      addEventListener("online", this.onOnline);
    }
  }

  /**
   * Listen for an event: connectionStateChanged, messageAdded, messageUpdated,
   * messageRemoved, memberJoined, memberLeft, memberUpdated, typingStarted,
   * typingEnded, channelUpdated, channelRemoved, channelJoined (this identity
   * was added to a channel), unsubscribed, tokenAboutToExpire, tokenExpired,
   * workerEvent, workspaceEvent, error. Returns a function that removes the listener.
   * @param {string} event @param {Function} fn
   */
  on(event, fn) {
    let set = this.listeners.get(event);
    if (!set) this.listeners.set(event, (set = new Set()));
    set.add(fn);
    return () => set && set.delete(fn);
  }

  /** @param {string} event @param {...any} args */
  emit(event, ...args) {
    for (const fn of this.listeners.get(event) || []) {
      try { fn(...args); } catch (e) { setTimeout(() => { throw e; }); }
    }
  }

  /** @param {typeof this.state} state @param {any} [detail] */
  setState(state, detail) {
    if (this.state === state) return;
    this.state = state;
    this.emit("connectionStateChanged", state, detail);
  }

  /**
   * Open the socket and authenticate. Resolves with the auth reply
   * ({identity, channels, ...}); rejects if the token is refused.
   * @returns {Promise<Json>}
   */
  connect() {
    if (this.state === "closed") return Promise.reject(new ParleyError({ code: 0, status: 0, message: "client closed" }));
    if (this.connecting) return this.connecting;
    this.setState("connecting");
    const WS = this.opts.WebSocket || WebSocket;
    const ws = new WS(this.url, "parley.v1");
    this.ws = ws;
    this.connecting = new Promise((resolve, reject) => {
      ws.onopen = () => {
        this.request({ type: "auth", token: this.token }).then(async (session) => {
          this.session = session;
          this.heartbeatMs = session.heartbeat_ms || this.heartbeatMs;
          this.attempt = 0;
          this.setState("connected");
          this.feedWatchdog();
          await this.restore();
          resolve(session);
        }, reject);
      };
      ws.onmessage = (ev) => this.onFrame(String(ev.data));
      ws.onclose = (ev) => {
        reject(new ParleyError({ code: ev.code, status: 0, message: ev.reason || "connection closed" }));
        this.onClose(ws, ev.code, ev.reason);
      };
    });
    this.connecting.catch(() => {}).finally(() => { this.connecting = null; });
    return this.connecting;
  }

  /** After (re)connecting: resubscribe from the last index held, then resend what was not acknowledged. */
  async restore() {
    for (const ch of this.channels.values()) {
      if (ch.subscribed) await this.subscribe(ch.sid).catch((e) => this.emit("error", e, ch.sid));
    }
    for (const [cmid, s] of this.unacked) if (!s.inFlight) this.transmit(cmid);
  }

  /** @param {WebSocket} ws @param {number} code @param {string} reason */
  onClose(ws, code, reason) {
    if (this.ws !== ws) return;
    this.ws = null;
    clearTimeout(this.watchdog);
    for (const [id, r] of this.requests) {
      clearTimeout(r.timer);
      r.reject(new ParleyError({ code: 0, status: 0, message: "disconnected" }));
      this.requests.delete(id);
    }
    for (const s of this.unacked.values()) s.inFlight = false;
    if (this.state === "closed") return;
    if (FATAL.has(code)) {
      this.setState("disconnected", { code, reason, fatal: true });
      for (const s of this.unacked.values()) s.reject(new ParleyError({ code, status: 0, message: reason }));
      this.unacked.clear();
      return;
    }
    this.setState("disconnected", { code, reason });
    if (code === TOKEN_EXPIRED) {
      this.emit("tokenExpired");
      if (!this.getToken) return;
    }
    this.scheduleReconnect(code === TOKEN_EXPIRED);
  }

  /** Exponential backoff with full jitter. @param {boolean} renew */
  scheduleReconnect(renew) {
    const cap = Math.min(this.opts.maxBackoffMs, this.opts.minBackoffMs * 2 ** this.attempt);
    const delay = this.attempt === 0 ? Math.random() * this.opts.minBackoffMs : Math.random() * cap;
    this.attempt++;
    clearTimeout(this.reconnectTimer);
    this.retry = async () => {
      this.retry = null;
      if (this.state === "closed") return;
      if (renew && this.getToken) {
        try { this.token = await this.getToken(); } catch (e) { this.emit("error", e); return this.scheduleReconnect(true); }
      }
      this.connect().catch(() => {});
    };
    this.reconnectTimer = setTimeout(this.retry, delay);
  }

  /** A silent server for 2.5 heartbeats is taken for dead: drop the socket and reconnect. */
  feedWatchdog() {
    clearTimeout(this.watchdog);
    this.watchdog = setTimeout(() => {
      const ws = this.ws;
      if (ws) { ws.close(); this.onClose(ws, 1006, "heartbeat timeout"); }
    }, this.heartbeatMs * 2.5);
  }

  /** @param {string} text */
  onFrame(text) {
    this.feedWatchdog();
    /** @type {Json} */
    let f;
    try { f = JSON.parse(text); } catch { return; }
    if (f.v !== PROTOCOL_VERSION) return;
    if (f.type === "reply" || (f.type === "error" && f.re)) return this.settle(f);
    switch (f.type) {
      case "ping": return this.raw({ type: "pong" });
      case "pong": return this.settle({ ...f, type: "reply" });
      case "error": return this.emit("error", new ParleyError(f.error));
      case "tokenAboutToExpire": return this.onTokenAboutToExpire(f);
      case "unsubscribed": {
        const ch = this.channels.get(f.channel_sid);
        if (ch) ch.subscribed = false;
        return this.emit("unsubscribed", f.channel_sid, f.reason);
      }
    }
    if (f.channel_sid) return this.onChannelEvent(f);
    if (f.worker_sid) return this.emit("workerEvent", f.type, f.data, f);
    if (f.workspace_sid) return this.emit("workspaceEvent", f.type, f.data, f); // a supervisor's workspace signal
  }

  /** @param {Json} f */
  settle(f) {
    const r = this.requests.get(f.re);
    if (!r) return;
    this.requests.delete(f.re);
    clearTimeout(r.timer);
    if (f.type === "error") r.reject(new ParleyError(f.error));
    else r.resolve(f.data || {});
  }

  /** @param {Json} f */
  async onTokenAboutToExpire(f) {
    this.emit("tokenAboutToExpire", f.expires_at);
    if (!this.getToken) return;
    try { await this.updateToken(await this.getToken()); } catch (e) { this.emit("error", e); }
  }

  /** @param {Json} f */
  onChannelEvent(f) {
    const sid = f.channel_sid;
    const ch = this.channels.get(sid);
    const own = this.session && f.data && f.data.identity === this.session.identity;
    if (!ch || !ch.subscribed) {
      // Only our own joins and leaves arrive for channels we do not follow.
      if (f.type === "member.joined" && own) this.emit("channelJoined", sid, f.data);
      if (f.type === "member.left" && own) this.emit("channelLeft", sid, f.data);
      return;
    }
    switch (f.type) {
      case "message.added":
        if (f.index <= ch.lastIndex) return; // already have it
        ch.lastIndex = f.index;
        return this.emit("messageAdded", f.data, sid);
      case "message.updated": return this.emit("messageUpdated", f.data, sid);
      case "message.removed": return this.emit("messageRemoved", f.data, sid);
      case "member.joined":
        ch.members = ch.members.filter((m) => m.identity !== f.data.identity).concat([f.data]);
        return this.emit("memberJoined", f.data, sid);
      case "member.left":
        ch.members = ch.members.filter((m) => m.identity !== f.data.identity);
        return this.emit("memberLeft", f.data, sid);
      case "member.updated":
        ch.members = ch.members.map((m) => (m.identity === f.data.identity ? f.data : m));
        return this.emit("memberUpdated", f.data, sid);
      case "typing.started": return this.emit("typingStarted", f.data.identity, sid);
      case "typing.ended": return this.emit("typingEnded", f.data.identity, sid);
      case "channel.updated":
        ch.channel = f.data;
        return this.emit("channelUpdated", f.data, sid);
      case "channel.removed":
        ch.subscribed = false;
        return this.emit("channelRemoved", f.data, sid);
    }
  }

  /** @param {Json} frame */
  raw(frame) {
    const ws = this.ws;
    if (!ws || ws.readyState !== 1) return false;
    ws.send(JSON.stringify({ v: PROTOCOL_VERSION, ...frame }));
    return true;
  }

  /**
   * Send a frame with an id and wait for its reply.
   * @param {Json} frame @returns {Promise<Json>}
   */
  request(frame) {
    const id = String(++this.seq);
    return new Promise((resolve, reject) => {
      if (!this.raw({ ...frame, id })) {
        return reject(new ParleyError({ code: 0, status: 0, message: "not connected" }));
      }
      const timer = setTimeout(() => {
        this.requests.delete(id);
        reject(new ParleyError({ code: 0, status: 0, message: frame.type + " timed out" }));
      }, this.opts.requestTimeoutMs);
      this.requests.set(id, { resolve, reject, timer });
    });
  }

  /** Wait until connected (reconnecting if needed). */
  async ready() {
    if (this.state === "connected") return;
    await new Promise((resolve) => {
      const off = this.on("connectionStateChanged", (/** @type {string} */ s) => {
        if (s === "connected" || s === "closed") { off(); resolve(undefined); }
      });
    });
  }

  /**
   * Follow a channel. Messages after the last index this client has are
   * delivered first (messageAdded, in order, each once); the channel's
   * current state (attributes, members with read horizons) comes with it.
   * @param {string} channelSid @returns {Promise<ChannelState>}
   */
  async subscribe(channelSid) {
    let ch = this.channels.get(channelSid);
    if (!ch) this.channels.set(channelSid, (ch = { sid: channelSid, channel: null, members: [], lastIndex: -2, subscribed: true }));
    ch.subscribed = true;
    /** @type {Json} */
    const frame = { type: "subscribe", channel_sid: channelSid };
    if (ch.lastIndex >= -1) frame.last_index = ch.lastIndex;
    try {
      const r = await this.request(frame);
      ch.channel = r.channel;
      ch.members = r.members || [];
      ch.lastIndex = Math.max(ch.lastIndex, r.last_index);
      this.emit("channelUpdated", ch.channel, channelSid);
      return ch;
    } catch (e) {
      if (e instanceof ParleyError && e.code) { ch.subscribed = false; this.channels.delete(channelSid); }
      throw e;
    }
  }

  /** @param {string} channelSid */
  async unsubscribe(channelSid) {
    this.channels.delete(channelSid);
    if (this.state === "connected") await this.request({ type: "unsubscribe", channel_sid: channelSid });
  }

  /**
   * Send a message. It is retried (with the same client message id, so
   * never twice) across reconnects until the server acknowledges it after
   * commit; resolves with {index, message}.
   * @param {string} channelSid @param {string} body @param {{attributes?: Json|string, clientMessageId?: string}} [opts]
   * @returns {Promise<{index: number, message: Json}>}
   */
  send(channelSid, body, opts = {}) {
    const cmid = opts.clientMessageId || randomId();
    const attributes = opts.attributes === undefined ? undefined
      : typeof opts.attributes === "string" ? opts.attributes : JSON.stringify(opts.attributes);
    return new Promise((resolve, reject) => {
      this.unacked.set(cmid, { channelSid, body, attributes, resolve, reject, inFlight: false });
      this.transmit(cmid);
    });
  }

  /** @param {string} cmid */
  transmit(cmid) {
    const s = this.unacked.get(cmid);
    if (!s || s.inFlight || this.state !== "connected") return;
    s.inFlight = true;
    /** @type {Json} */
    const frame = { type: "send", channel_sid: s.channelSid, body: s.body, client_message_id: cmid };
    if (s.attributes !== undefined) frame.attributes = s.attributes;
    this.request(frame).then((r) => {
      this.unacked.delete(cmid);
      s.resolve({ index: r.index, message: r.message });
    }, async (e) => {
      s.inFlight = false;
      if (!(e instanceof ParleyError) || e.code === 0) return; // disconnected: restore() resends
      if (e.code === 20429) { await sleep(e.retryAfterMs || 1000); return this.transmit(cmid); }
      this.unacked.delete(cmid);
      s.reject(e);
    });
  }

  /** Move this identity's read horizon to index. @param {string} channelSid @param {number} index */
  read(channelSid, index) {
    return this.request({ type: "read", channel_sid: channelSid, index });
  }

  /** Say this identity is typing; calls closer together than typingIntervalMs are dropped. @param {string} channelSid */
  typing(channelSid) {
    const now = Date.now();
    if (now - (this.typingSentAt.get(channelSid) || 0) < this.opts.typingIntervalMs) return false;
    this.typingSentAt.set(channelSid, now);
    return this.raw({ type: "typing", channel_sid: channelSid, state: "started" });
  }

  /** @param {string} channelSid */
  typingEnded(channelSid) {
    this.typingSentAt.delete(channelSid);
    return this.raw({ type: "typing", channel_sid: channelSid, state: "ended" });
  }

  /**
   * A page of messages, ascending: the latest, or before/after an index.
   * @param {string} channelSid @param {{before?: number, after?: number, limit?: number}} [page]
   * @returns {Promise<Json[]>}
   */
  async history(channelSid, page = {}) {
    const r = await this.request({ type: "history", channel_sid: channelSid, ...page });
    return r.messages;
  }

  /** The channels this identity is a member of. @returns {Promise<string[]>} */
  async memberChannels() {
    return (await this.request({ type: "channels" })).channels;
  }

  /** Swap in a renewed token (also used for the next reconnect). @param {string} token */
  async updateToken(token) {
    this.token = token;
    if (this.state === "connected") return this.request({ type: "updateToken", token });
    return {};
  }

  /** The last message index held for a channel (-1: none; store it to resume after a page reload). @param {string} channelSid */
  lastIndex(channelSid) {
    const ch = this.channels.get(channelSid);
    return ch ? Math.max(ch.lastIndex, -1) : -1;
  }

  /** Close for good: unacknowledged sends are rejected. */
  close() {
    this.setState("closed");
    this.retry = null;
    if (typeof removeEventListener === "function") {
      removeEventListener("offline", this.onOffline);
      removeEventListener("online", this.onOnline);
    }
    for (const s of this.unacked.values()) s.reject(new ParleyError({ code: 0, status: 0, message: "client closed" }));
    this.unacked.clear();
    clearTimeout(this.reconnectTimer);
    clearTimeout(this.watchdog);
    const ws = this.ws;
    if (ws) { ws.close(1000, "client closed"); this.onClose(ws, 1000, "client closed"); }
  }
}
