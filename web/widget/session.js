// @ts-check
/**
 * The visitor's side of a web chat, without any UI: the guest token (got,
 * renewed at 80% of its life, kept), the web channel (started, ended,
 * surveyed), the realtime client, and what is saved in localStorage so that
 * a reload or a second tab resumes the same conversation.
 */
import { ParleyClient } from "../sdk/parley.js";

/** Renew a token when this share of its life has passed. */
export const RENEW_AT = 0.8;
const RETRY_DELAYS_MS = [1000, 2000, 4000, 8000, 15000];

/**
 * @typedef {{ token: string, identity: string, expiration: string, receivedAt: number, life: number }} TokenState
 * @typedef {{ cmid: string, body: string }} Pending
 * @typedef {{ token?: TokenState, channelSid?: string, friendlyName?: string, pending?: Pending[] }} Saved
 */

/** Decode a JWT's payload (not verified: the server does that). @param {string} jwt */
export function jwtClaims(jwt) {
  const part = jwt.split(".")[1] || "";
  const json = atob(part.replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(part.length / 4) * 4, "="));
  return JSON.parse(json);
}

/** A Parley REST error as an Error with Twilio's code. */
export class RequestError extends Error {
  /** @param {number} status @param {any} body */
  constructor(status, body) {
    super((body && body.message) || "HTTP " + status);
    this.status = status;
    this.code = body && body.code;
  }
}

export class Session {
  /**
   * @param {{ serverUrl: string, accountSid: string, flexFlowSid: string, disableLocalStorage?: boolean,
   *   chatFriendlyName?: string, tokenRetryDelays?: number[] }} options
   * @param {(event: string, ...args: any[]) => void} emit
   */
  constructor(options, emit) {
    this.opts = options;
    this.emit = emit;
    this.key = `parley-webchat:${options.accountSid}:${options.flexFlowSid}`;
    /** @type {Saved} */
    this.saved = this.load();
    /** @type {ParleyClient|null} */
    this.client = null;
    /** @type {Promise<TokenState>|null} */
    this.renewing = null;
    /** @type {any} */
    this.renewTimer = null;
    /** Resolves with the next renewed token (for the SDK's getToken). @type {Array<(t: string) => void>} */
    this.waiting = [];
    this.renewals = 0;
    this.onStorage = (/** @type {StorageEvent} */ e) => {
      if (e.key !== this.key) return;
      this.saved = this.load();
      this.emit("storage", this.saved);
    };
    addEventListener("storage", this.onStorage);
  }

  /** What is saved (storage is the truth: another tab may have written it). @returns {Saved} */
  load() {
    if (this.opts.disableLocalStorage) return this.saved || {};
    try { return JSON.parse(localStorage.getItem(this.key) || "{}") || {}; } catch { return this.saved || {}; }
  }

  /** @param {Partial<Saved>} patch */
  save(patch) {
    this.saved = { ...this.load(), ...patch };
    if (this.opts.disableLocalStorage) return;
    try { localStorage.setItem(this.key, JSON.stringify(this.saved)); } catch { /* storage full or blocked */ }
  }

  /** Forget the conversation (a new chat starts); the token is kept. */
  forgetChannel() { this.save({ channelSid: undefined, pending: [] }); }

  get identity() { return this.saved.token ? this.saved.token.identity : ""; }
  get channelSid() { return this.saved.channelSid || ""; }

  /** @param {string} path @param {RequestInit} init */
  async request(path, init) {
    const res = await fetch(this.opts.serverUrl + path, { ...init, credentials: "omit", mode: "cors" });
    const text = await res.text();
    let body = null;
    try { body = text ? JSON.parse(text) : null; } catch { /* not JSON */ }
    if (!res.ok) throw new RequestError(res.status, body);
    return body;
  }

  /** @param {string} path @param {any} json */
  postJSON(path, json) {
    return this.request(path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(json) });
  }

  /** @param {string} path @param {Record<string, string>} form */
  postForm(path, form) {
    const tok = this.saved.token ? this.saved.token.token : "";
    return this.request(path, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded", Authorization: "Basic " + btoa("token:" + tok) },
      body: new URLSearchParams(form).toString(),
    });
  }

  /** @param {any} payload @returns {TokenState} */
  tokenState(payload) {
    const c = jwtClaims(payload.token);
    const life = Math.max(1000, (c.exp - (c.nbf || c.iat || c.exp - 3600)) * 1000);
    return { token: payload.token, identity: payload.identity, expiration: payload.expiration, receivedAt: Date.now(), life };
  }

  /** @param {TokenState} t */
  tokenValid(t) {
    return !!(t && t.token && t.identity && t.receivedAt + t.life > Date.now() + 5000);
  }

  /** A valid guest token: the saved one, or a new one (a new identity). */
  async ensureToken() {
    const t = this.saved.token;
    if (t && this.tokenValid(t)) {
      this.scheduleRenewal();
      return t;
    }
    if (t && t.token) {
      // Expired while the page was closed: the same identity, if the server still takes it.
      try { return await this.renew(); } catch { /* a new identity then */ }
    }
    const payload = await this.postJSON(`/iam/v1/Accounts/${this.opts.accountSid}/Tokens`, { products: ["flex"] });
    this.save({ token: this.tokenState(payload), channelSid: undefined, pending: [] });
    this.scheduleRenewal();
    return /** @type {TokenState} */ (this.saved.token);
  }

  /** Arm the renewal at RENEW_AT of the current token's life. */
  scheduleRenewal() {
    clearTimeout(this.renewTimer);
    const t = this.saved.token;
    if (!t) return;
    const due = t.receivedAt + t.life * RENEW_AT - Date.now();
    this.renewTimer = setTimeout(() => this.renewWithRetries(), Math.max(0, due));
  }

  /** Renew now (one request at a time); the socket gets the token too. @returns {Promise<TokenState>} */
  renew() {
    if (this.renewing) return this.renewing;
    const old = this.saved.token;
    this.renewing = (async () => {
      const payload = await this.postJSON(`/iam/v1/Accounts/${this.opts.accountSid}/Tokens/refresh`, { token: old && old.token });
      const t = this.tokenState(payload);
      this.save({ token: t });
      this.renewals++;
      for (const w of this.waiting.splice(0)) w(t.token);
      if (this.client) await this.client.updateToken(t.token).catch(() => { /* the next connect uses it */ });
      this.emit("tokenRenewed", t.expiration);
      this.scheduleRenewal();
      return t;
    })();
    this.renewing.catch(() => {}).finally(() => { this.renewing = null; });
    return this.renewing;
  }

  /** Renew, retrying with backoff; after the last try, tell the visitor. */
  async renewWithRetries() {
    const delays = this.opts.tokenRetryDelays || RETRY_DELAYS_MS;
    for (let i = 0; ; i++) {
      try {
        await this.renew();
        this.emit("tokenProblem", false);
        return;
      } catch (e) {
        const t = this.saved.token;
        const expired = !t || !this.tokenValid(t);
        if (i >= delays.length || (expired && i >= 2)) {
          this.emit("tokenProblem", true, e);
          return;
        }
        await new Promise((r) => setTimeout(r, delays[i]));
      }
    }
  }

  /**
   * The SDK asks for a token when the server warns of expiry, or after the
   * socket was closed for an expired token. A token with life left is
   * renewed at its scheduled time (so an early warning cannot start a storm
   * of renewals); one that is nearly out is renewed now.
   * @returns {Promise<string>}
   */
  getToken() {
    const t = this.saved.token;
    if (!t || t.receivedAt + t.life * 0.9 < Date.now()) return this.renew().then((n) => n.token);
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  /**
   * Start a conversation: POST /flex-api/v1/WebChannels as the guest.
   * @param {Record<string, any>} answers @param {Record<string, any>} context
   */
  async startChannel(answers, context) {
    const t = await this.ensureToken();
    const friendlyName = String(answers.friendlyName || answers.name || context.friendlyName || "");
    const data = { ...answers, ...context, identity: t.identity, location: location.href };
    const res = await this.postForm("/flex-api/v1/WebChannels", {
      FlexFlowSid: this.opts.flexFlowSid, Identity: t.identity, CustomerFriendlyName: friendlyName,
      ChatFriendlyName: this.opts.chatFriendlyName || "Parley web chat", PreEngagementData: JSON.stringify(data),
    });
    const sid = res.sid || res.chat_channel_sid;
    this.save({ channelSid: sid, friendlyName, pending: [] });
    return sid;
  }

  /** End the conversation from the visitor's side. */
  endChannel() {
    return this.postForm(`/flex-api/v1/WebChannels/${this.channelSid}`, { ChatStatus: "inactive" });
  }

  /** Send the post-chat survey. @param {Record<string, any>} answers */
  sendSurvey(answers) {
    return this.postForm(`/flex-api/v1/WebChannels/${this.channelSid}`, { PostEngagementData: JSON.stringify(answers) });
  }

  /** The realtime client, connected with the current token. */
  async connect() {
    if (this.client) return this.client;
    const t = await this.ensureToken();
    this.client = new ParleyClient({ url: this.opts.serverUrl, token: t.token, getToken: () => this.getToken() });
    return this.client;
  }

  /** Messages typed but not acknowledged yet survive a reload. @param {Pending} p */
  addPending(p) { this.save({ pending: [...(this.load().pending || []), p] }); }

  /** @param {string} cmid */
  dropPending(cmid) { this.save({ pending: (this.load().pending || []).filter((p) => p.cmid !== cmid) }); }

  close() {
    clearTimeout(this.renewTimer);
    removeEventListener("storage", this.onStorage);
    if (this.client) this.client.close();
  }
}
