/*! Parley web chat loader: docs/widget.md */
// A classic script, so that a website includes it with one <script> tag.
// It defines only the global `Parley`, draws the launcher in a shadow root
// and loads the chat panel (an ES module) the first time it is needed:
// when the visitor opens the chat, or when there is a conversation to resume.
(function () {
  "use strict";
  var Parley = (window.Parley = window.Parley || {});
  if (Parley.Webchat) return;

  // The server replaces this with the content-hashed prefix of the web files.
  var STATIC = "__PARLEY_STATIC__";
  var script = document.currentScript;
  var scriptURL = script && script.src ? new URL(script.src, location.href) : new URL("/webchat.js", location.href);
  var base = scriptURL.href.replace(/\/webchat\.js(\?.*)?$/, "");

  var LAUNCHER_CSS =
    ":host{all:initial;position:fixed;z-index:2147483000;inset-block-end:20px;inset-inline-end:20px;" +
    "font:15px/1.4 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:var(--pw-text,#1d2433)}" +
    ".launcher{width:60px;height:60px;border-radius:50%;border:0;cursor:pointer;background:var(--pw-primary,#1a56c4);" +
    "color:var(--pw-on-primary,#fff);box-shadow:0 4px 14px rgba(0,0,0,.25);display:grid;place-items:center;position:relative}" +
    ".launcher:focus-visible{outline:3px solid var(--pw-focus,#f5a623);outline-offset:3px}" +
    ".launcher svg{width:28px;height:28px;fill:currentColor}" +
    ".badge{position:absolute;inset-block-start:-4px;inset-inline-end:-4px;min-width:22px;height:22px;padding:0 6px;box-sizing:border-box;" +
    "border-radius:11px;background:#b3001b;color:#fff;font-size:12px;font-weight:700;line-height:22px;text-align:center}" +
    "[hidden]{display:none!important}";
  var ICON_CHAT = "M4 3h16a2 2 0 0 1 2 2v11a2 2 0 0 1-2 2H8l-5 4V5a2 2 0 0 1 2-2z";
  var ICON_CLOSE = "M6.4 5 12 10.6 17.6 5 19 6.4 13.4 12l5.6 5.6-1.4 1.4L12 13.4 6.4 19 5 17.6 10.6 12 5 6.4z";

  var DEFAULT_STRINGS = {
    launcherOpen: "Open chat",
    launcherClose: "Close chat",
    unread: "{n} unread messages"
  };

  function WebchatInstance() {
    this.options = null;
    this.listeners = {};
    this.isOpen = false;
    this.unread = 0;
    this.panel = null;
    this.loading = null;
  }

  var proto = WebchatInstance.prototype;

  /** Configure the widget and draw the launcher. Returns a promise. */
  proto.init = function (options) {
    if (this.options) return Promise.reject(new Error("Parley.Webchat.init: already initialised"));
    options = Object.assign({}, options || {});
    if (!options.accountSid || !options.flexFlowSid) {
      return Promise.reject(new Error("Parley.Webchat.init: accountSid and flexFlowSid are required"));
    }
    options.serverUrl = (options.serverUrl || base).replace(/\/$/, "");
    options.pageStrings = options.strings || {};
    options.strings = Object.assign({}, DEFAULT_STRINGS, options.pageStrings);
    this.options = options;
    this.draw();
    var self = this;
    var resume = hasSession(options);
    if (options.open || options.startEngagementOnInit || resume) {
      return this.load().then(function () { if (options.open) self.open(); return self; });
    }
    return Promise.resolve(this);
  };

  proto.draw = function () {
    var host = document.createElement("div");
    host.id = "parley-webchat";
    host.setAttribute("data-parley", "webchat");
    var dir = this.options.dir || document.documentElement.dir || "";
    if (dir) host.dir = dir;
    var root = host.attachShadow({ mode: "open" });
    var style = document.createElement("style");
    style.textContent = LAUNCHER_CSS;
    var button = document.createElement("button");
    button.type = "button";
    button.className = "launcher";
    button.setAttribute("aria-expanded", "false");
    button.setAttribute("aria-controls", "parley-panel");
    button.appendChild(icon(ICON_CHAT));
    var badge = document.createElement("span");
    badge.className = "badge";
    badge.hidden = true;
    badge.setAttribute("aria-hidden", "true");
    button.appendChild(badge);
    root.appendChild(style);
    root.appendChild(button);
    var self = this;
    button.addEventListener("click", function () { self.isOpen ? self.close() : self.open(); });
    this.host = host;
    this.root = root;
    this.button = button;
    this.badge = badge;
    this.applyColors(this.options.colors);
    this.label();
    (document.body || document.documentElement).appendChild(host);
  };

  /** Colours are CSS custom properties on the host, inherited by the panel. */
  proto.applyColors = function (colors) {
    var names = { primary: "--pw-primary", onPrimary: "--pw-on-primary", background: "--pw-bg", text: "--pw-text",
      agentBubble: "--pw-agent-bg", agentText: "--pw-agent-text", ownBubble: "--pw-own-bg", ownText: "--pw-own-text", focus: "--pw-focus" };
    for (var k in colors || {}) if (names[k]) this.host.style.setProperty(names[k], String(colors[k]));
  };

  proto.label = function () {
    var s = this.options.strings;
    var text = this.isOpen ? s.launcherClose : s.launcherOpen;
    if (this.unread > 0 && !this.isOpen) text += ", " + s.unread.replace("{n}", String(this.unread));
    this.button.setAttribute("aria-label", text);
    this.button.setAttribute("aria-expanded", String(this.isOpen));
    this.button.replaceChild(icon(this.isOpen ? ICON_CLOSE : ICON_CHAT), this.button.firstChild);
    this.badge.textContent = this.unread > 99 ? "99+" : String(this.unread);
    this.badge.hidden = this.unread === 0 || this.isOpen;
  };

  /** Load the panel module once; it takes over the shadow root. */
  proto.load = function () {
    if (this.loading) return this.loading;
    var self = this;
    var url = this.options.serverUrl + STATIC + "widget/panel.js";
    this.loading = import(url).then(function (mod) {
      self.panel = mod.mount(self);
      self.emit("ready");
      return self.panel;
    }, function (err) {
      self.loading = null;
      self.emit("error", err);
      throw err;
    });
    return this.loading;
  };

  proto.open = function () {
    if (!this.options) return Promise.reject(new Error("Parley.Webchat.open: call init first"));
    var self = this;
    return this.load().then(function (panel) {
      if (self.isOpen) return;
      self.isOpen = true;
      self.unread = 0;
      self.label();
      panel.show();
      self.emit("open");
    });
  };

  proto.close = function () {
    if (!this.isOpen) return;
    this.isOpen = false;
    this.label();
    if (this.panel) this.panel.hide();
    this.button.focus();
    this.emit("close");
  };

  /** Called by the panel when a message arrives while the panel is closed. */
  proto.setUnread = function (n) {
    this.unread = n;
    this.label();
    this.emit("unread", n);
  };

  /** Listen for an event; returns a function that removes the listener. */
  proto.on = function (event, fn) {
    (this.listeners[event] = this.listeners[event] || []).push(fn);
    var list = this.listeners[event];
    return function () { var i = list.indexOf(fn); if (i >= 0) list.splice(i, 1); };
  };

  proto.emit = function (event) {
    var args = Array.prototype.slice.call(arguments, 1);
    (this.listeners[event] || []).slice().forEach(function (fn) {
      try { fn.apply(null, args); } catch (e) { setTimeout(function () { throw e; }); }
    });
  };

  function icon(d) {
    var ns = "http://www.w3.org/2000/svg";
    var svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("focusable", "false");
    var path = document.createElementNS(ns, "path");
    path.setAttribute("d", d);
    svg.appendChild(path);
    return svg;
  }

  /** Is there a conversation saved in this browser to resume? */
  function hasSession(options) {
    if (options.disableLocalStorage) return false;
    try {
      var raw = localStorage.getItem("parley-webchat:" + options.accountSid + ":" + options.flexFlowSid);
      return !!(raw && JSON.parse(raw).channelSid);
    } catch (e) {
      return false;
    }
  }

  /** Options from the script tag's data-* attributes. */
  function fromAttributes(el) {
    var d = el.dataset;
    var o = { accountSid: d.accountSid, flexFlowSid: d.flexFlowSid };
    if (d.startEngagementOnInit) o.startEngagementOnInit = d.startEngagementOnInit === "true";
    if (d.open) o.open = d.open === "true";
    if (d.dir) o.dir = d.dir;
    if (d.primaryColor) o.colors = { primary: d.primaryColor };
    if (d.context) try { o.context = JSON.parse(d.context); } catch (e) { /* ignored: not JSON */ }
    return o;
  }

  var webchat = new WebchatInstance();
  Parley.Webchat = {
    init: function (options) { return webchat.init(options); },
    open: function () { return webchat.open(); },
    close: function () { return webchat.close(); },
    on: function (event, fn) { return webchat.on(event, fn); },
    /** The panel, once loaded (for the host page's tests and tools). */
    get instance() { return webchat; },
    version: "1"
  };

  if (script && script.dataset && script.dataset.accountSid) {
    var start = function () {
      webchat.init(fromAttributes(script)).catch(function (e) { console.error(e); });
    };
    if (document.body) start(); else document.addEventListener("DOMContentLoaded", start);
  }
})();
