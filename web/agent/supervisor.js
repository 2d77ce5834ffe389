// @ts-check
/**
 * The supervisor view of the agent desktop, loaded by main.js for agents
 * with the supervisor role: the workspace's queues with their live
 * figures, the agents with their activity and chats, a read-only monitor
 * of any chat, and a chart of the queues over the last hour.
 *
 * Figures come from GET /agent/supervisor/overview and are fetched again
 * when the socket brings a workspace signal (workspaceEvent), at most
 * once a second; between signals the waits count on by themselves. The
 * monitor subscribes to the chat on the same socket without joining it
 * (the server allows a supervisor to read any chat, never to write).
 * Everything a visitor supplied is put in the page as text only (dom.js).
 */
import { h, clear } from "../widget/dom.js";

/** @typedef {Record<string, any>} Json */
/** @typedef {import("../sdk/parley.js").ParleyClient} ParleyClient */

const $ = (/** @type {string} */ id) => /** @type {HTMLElement} */ (document.getElementById(id));
const SVG = "http://www.w3.org/2000/svg";

/** Least time between two overview fetches (ms). */
const REFETCH_MS = 1000;

/**
 * @typedef {{ client: ParleyClient, call: (path: string, form?: Record<string,string>) => Promise<Json>,
 *   identity: string }} Deps
 */

/** @type {{ deps: Deps|null, overview: Json|null, trend: Json|null, skew: number, monitored: string,
 *   monitorOwn: boolean, messages: Json[], info: {agent: string, visitor: string}, lastFetch: number, timer: any,
 *   fetching: Promise<void>|null, again: boolean }} */
const sv = { deps: null, overview: null, trend: null, skew: 0, monitored: "", monitorOwn: false, messages: [],
  info: { agent: "", visitor: "Visitor" }, lastFetch: 0, timer: null, fetching: null, again: false };

/**
 * Starts the view: the header's switch, the live figures and the chart.
 * @param {Deps} deps
 */
export async function start(deps) {
  sv.deps = deps;
  build();
  const { client } = deps;
  client.on("workspaceEvent", () => refetchSoon());
  // Signals are not replayed after a reconnect: read the figures again.
  client.on("connectionStateChanged", (/** @type {string} */ s) => s === "connected" && refetchSoon());
  client.on("messageAdded", (/** @type {Json} */ m, /** @type {string} */ sid) => sid === sv.monitored && addMessage(m));
  client.on("unsubscribed", (/** @type {string} */ sid) => sid === sv.monitored && renderMonitorNote("The chat was removed."));
  client.on("channelUpdated", (/** @type {Json} */ c, /** @type {string} */ sid) => {
    if (sid === sv.monitored && chatEnded(c)) renderMonitorNote("The chat has ended.");
  });
  await Promise.all([fetchOverview(), fetchTrend()]);
  setInterval(tick, 1000);
  setInterval(fetchTrend, ((sv.trend && sv.trend.interval_s) || 30) * 1000);
  setInterval(refetchSoon, 15000); // a safety net for a lost signal
}

// ---- layout -----------------------------------------------------------

function build() {
  const views = $("views");
  views.hidden = false;
  views.addEventListener("click", (e) => {
    const btn = /** @type {HTMLElement} */ (e.target).closest("button[data-view]");
    if (btn) show(/** @type {HTMLElement} */ (btn).dataset.view || "desk");
  });
  const root = $("supervisor");
  clear(root);
  root.append(
    h("section", { className: "sv-panel sv-queues", "aria-labelledby": "sv-queues-title" },
      h("h2", { id: "sv-queues-title" }, "Queues"),
      h("table", null,
        h("thead", null, h("tr", null, ...["Queue", "Waiting", "Longest wait", "In progress", "Available", "Busy", "Agents"]
          .map((t) => h("th", { scope: "col" }, t)))),
        h("tbody", { id: "sv-queue-rows" }))),
    h("section", { className: "sv-panel sv-trend", "aria-labelledby": "sv-trend-title" },
      h("h2", { id: "sv-trend-title" }, "Last hour"),
      h("div", { id: "sv-chart" }),
      h("p", { className: "legend" }, h("span", { className: "key waiting" }, "Waiting tasks"), " ",
        h("span", { className: "key wait" }, "Longest wait"))),
    h("section", { className: "sv-panel sv-agents", "aria-labelledby": "sv-agents-title" },
      h("h2", { id: "sv-agents-title" }, "Agents"),
      h("table", null,
        h("thead", null, h("tr", null, ...["Agent", "Activity", "Chats"].map((t) => h("th", { scope: "col" }, t)))),
        h("tbody", { id: "sv-agent-rows" }))),
    h("section", { className: "sv-panel sv-monitor", "aria-labelledby": "sv-monitor-title" },
      h("h2", { id: "sv-monitor-title" }, "Monitor"),
      h("div", { id: "sv-monitor" }, h("p", { className: "empty" }, "Choose a chat in the agents' list to follow it here (read-only)."))));
  root.addEventListener("click", (e) => {
    const btn = /** @type {HTMLElement} */ (e.target).closest("button[data-channel]");
    if (btn) monitor(/** @type {HTMLElement} */ (btn).dataset.channel || "");
  });
}

/** Shows "desk" (my chats) or "supervisor". @param {string} view */
function show(view) {
  const supervising = view === "supervisor";
  $("supervisor").hidden = !supervising;
  /** @type {HTMLElement} */ (document.querySelector("#desk .work")).hidden = supervising;
  for (const b of /** @type {HTMLElement[]} */ ([...$("views").querySelectorAll("button[data-view]")])) {
    b.setAttribute("aria-pressed", String(b.dataset.view === view));
  }
  if (supervising) {
    refetchSoon();
    renderChart(); // its width is known only once shown
  }
}

// ---- data -------------------------------------------------------------

/** Fetches the overview now, or as soon as a second has passed since the last fetch. */
function refetchSoon() {
  if (sv.timer) return;
  const wait = Math.max(0, sv.lastFetch + REFETCH_MS - Date.now());
  sv.timer = setTimeout(() => { sv.timer = null; fetchOverview(); }, wait);
}

async function fetchOverview() {
  if (sv.fetching) { sv.again = true; return sv.fetching; }
  sv.lastFetch = Date.now();
  sv.fetching = (async () => {
    try {
      const ov = await /** @type {Deps} */ (sv.deps).call("/agent/supervisor/overview");
      sv.skew = Date.now() - ov.now_ms;
      sv.overview = ov;
      renderQueues();
      renderAgents();
      renderChart();
    } catch (err) {
      console.error("supervisor overview", err);
    }
  })();
  await sv.fetching;
  sv.fetching = null;
  if (sv.again) { sv.again = false; refetchSoon(); }
}

async function fetchTrend() {
  try {
    sv.trend = await /** @type {Deps} */ (sv.deps).call("/agent/supervisor/trend");
    renderChart();
  } catch (err) {
    console.error("supervisor trend", err);
  }
}

const now = () => Date.now() - sv.skew;

/** @param {number} ms */
function duration(ms) {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h ${String(Math.floor(s / 60) % 60).padStart(2, "0")}m`;
}

/** A queue's longest wait now (ms), counted on from the oldest waiting task. @param {Json} q */
const longestWait = (q) => (q.waiting > 0 && q.oldest_waiting_ms ? Math.max(0, now() - q.oldest_waiting_ms) : 0);

// ---- queues and agents ------------------------------------------------

function renderQueues() {
  const body = $("sv-queue-rows");
  clear(body);
  const queues = (sv.overview && sv.overview.queues) || [];
  if (!queues.length) body.append(h("tr", null, h("td", { colspan: 7, className: "empty" }, "This workspace has no queues.")));
  for (const q of queues) {
    body.append(h("tr", { "data-queue": q.sid },
      h("th", { scope: "row", className: "name" }, q.friendly_name),
      h("td", { className: "waiting" + (q.waiting ? " alert" : "") }, q.waiting),
      h("td", { className: "longest", "data-oldest": q.waiting ? q.oldest_waiting_ms : 0 }, q.waiting ? duration(longestWait(q)) : "—"),
      h("td", { className: "active" }, q.active),
      h("td", { className: "available" }, q.available),
      h("td", { className: "busy" }, q.busy),
      h("td", { className: "eligible" }, q.eligible)));
  }
}

const STATUS = /** @type {Record<string,string>} */ ({ pending: "offered", accepted: "talking", wrapping: "wrapping up" });

function renderAgents() {
  const body = $("sv-agent-rows");
  const focused = /** @type {HTMLElement|null} */ (document.activeElement && body.contains(document.activeElement) ? document.activeElement : null);
  const refocus = focused && focused.dataset.channel;
  clear(body);
  for (const a of (sv.overview && sv.overview.agents) || []) {
    const chats = h("ul", { className: "sv-chats" });
    for (const c of a.chats) {
      const label = `${c.visitor || "Visitor"} (${STATUS[c.reservation_status] || c.reservation_status})`;
      chats.append(h("li", null, c.channel_sid
        ? h("button", { type: "button", className: "monitor secondary", "data-channel": c.channel_sid,
          "aria-pressed": String(c.channel_sid === sv.monitored), "aria-label": "Monitor the chat with " + label },
        h("span", { className: "visitor" }, c.visitor || "Visitor"), " ",
        h("span", { className: "state" }, STATUS[c.reservation_status] || c.reservation_status, " · ",
          h("span", { className: "since", "data-since": c.since_ms }, duration(now() - c.since_ms))))
        : h("span", { className: "visitor" }, label)));
    }
    body.append(h("tr", { "data-worker": a.worker_sid },
      h("th", { scope: "row", className: "name" }, a.name),
      h("td", null, h("span", { className: "pill activity" + (a.available ? " available" : "") }, a.activity_name)),
      h("td", { className: "chats" }, a.chats.length ? chats : h("span", { className: "none" }, "—"))));
  }
  if (refocus) {
    const again = /** @type {HTMLElement|null} */ (body.querySelector(`button[data-channel="${refocus}"]`));
    if (again) again.focus();
  }
}

/** Counts the waits on between fetches. */
function tick() {
  for (const td of /** @type {HTMLElement[]} */ ([...document.querySelectorAll("#sv-queue-rows td.longest")])) {
    const oldest = Number(td.dataset.oldest);
    if (oldest) td.textContent = duration(now() - oldest);
  }
  for (const el of /** @type {HTMLElement[]} */ ([...document.querySelectorAll("#sv-agent-rows .since")])) {
    el.textContent = duration(now() - Number(el.dataset.since));
  }
}

// ---- the chart --------------------------------------------------------

/**
 * The trend's samples plus the present (from the overview), as
 * [time ms, waiting, longest wait s].
 * @returns {number[][]}
 */
function series() {
  const pts = ((sv.trend && sv.trend.points) || []).map((/** @type {Json} */ p) => [p.t, p.waiting, p.longest_wait]);
  const queues = (sv.overview && sv.overview.queues) || [];
  if (sv.overview) {
    const waiting = queues.reduce((/** @type {number} */ n, /** @type {Json} */ q) => n + q.waiting, 0);
    const longest = queues.reduce((/** @type {number} */ m, /** @type {Json} */ q) => Math.max(m, longestWait(q) / 1000), 0);
    pts.push([now(), waiting, Math.round(longest)]);
  }
  return pts;
}

/** @param {string} tag @param {Record<string, string|number>} attrs @param {...Node} children */
function svg(tag, attrs, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  for (const c of children) el.appendChild(c);
  return el;
}

/** @param {string} text */
const svgText = (text) => document.createTextNode(text);

/** A round upper bound for an axis. @param {number} v */
function niceMax(v) {
  if (v <= 4) return 4;
  const step = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * step >= v) return m * step;
  return 10 * step;
}

/** Draws waiting tasks (left axis) and the longest wait (right axis) over the last hour. */
function renderChart() {
  const box = $("sv-chart");
  if (!box || $("supervisor").hidden) return;
  const W = 560, H = 180, L = 36, R = 48, T = 10, B = 24;
  const end = now(), start = end - 3600_000;
  const pts = series().filter((p) => p[0] >= start - 60_000);
  const maxWaiting = niceMax(Math.max(0, ...pts.map((p) => p[1])));
  const maxWait = niceMax(Math.max(0, ...pts.map((p) => p[2])));
  const x = (/** @type {number} */ t) => L + ((Math.max(t, start) - start) / (end - start)) * (W - L - R);
  const yW = (/** @type {number} */ v) => T + (1 - v / maxWaiting) * (H - T - B);
  const yL = (/** @type {number} */ v) => T + (1 - v / maxWait) * (H - T - B);
  const line = (/** @type {(p: number[]) => number} */ y) => pts.map((p) => `${x(p[0]).toFixed(1)},${y(p).toFixed(1)}`).join(" ");
  const last = pts[pts.length - 1] || [end, 0, 0];
  const peak = Math.max(0, ...pts.map((p) => p[1]));
  const summary = `Last hour: ${last[1]} waiting now (peak ${peak}), longest wait now ${duration(last[2] * 1000)}.`;
  const grid = [];
  for (let i = 0; i <= 4; i++) {
    const y = T + (i / 4) * (H - T - B);
    grid.push(svg("line", { x1: L, x2: W - R, y1: y, y2: y, class: "grid" }),
      svg("text", { x: L - 6, y: y + 4, "text-anchor": "end", class: "axis waiting" }, svgText(String(Math.round(maxWaiting * (1 - i / 4))))),
      svg("text", { x: W - R + 6, y: y + 4, class: "axis wait" }, svgText(duration(maxWait * (1 - i / 4) * 1000))));
  }
  for (const [label, t] of [["−60 min", start], ["−30 min", start + 1800_000], ["now", end]]) {
    grid.push(svg("text", { x: x(/** @type {number} */ (t)), y: H - 6, "text-anchor": t === end ? "end" : t === start ? "start" : "middle",
      class: "axis" }, svgText(String(label))));
  }
  const chart = svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": summary, class: "chart" },
    svg("title", {}, svgText(summary)), ...grid,
    svg("polyline", { points: line((p) => yL(p[2])), class: "series wait" }),
    svg("polyline", { points: line((p) => yW(p[1])), class: "series waiting" }),
    ...pts.map((p) => svg("circle", { cx: x(p[0]).toFixed(1), cy: yW(p[1]).toFixed(1), r: 2, class: "dot waiting" })));
  clear(box);
  box.append(chart);
}

// ---- monitoring -------------------------------------------------------

/** @param {Json} c */
function chatEnded(c) {
  try { return JSON.parse(c.attributes || "{}").status === "INACTIVE"; } catch { return false; }
}

/**
 * Who handles the chat and the visitor, from the agents' list; once the
 * chat has left the list (it ended), as they were last seen.
 * @param {string} sid
 */
function chatInfo(sid) {
  for (const a of (sv.overview && sv.overview.agents) || []) {
    for (const c of a.chats) {
      if (c.channel_sid === sid) sv.info = { agent: a.name, visitor: c.visitor || "Visitor" };
    }
  }
  return sv.info;
}

/** The agent whose chat identity this is. @param {string} from */
const agentOf = (from) => ((sv.overview && sv.overview.agents) || []).find((/** @type {Json} */ a) => a.identity && a.identity === from);

/** Follows a chat read-only: its history, then its messages live. @param {string} sid */
async function monitor(sid) {
  const { client } = /** @type {Deps} */ (sv.deps);
  if (!sid || sid === sv.monitored) return;
  await stopMonitoring();
  sv.monitored = sid;
  sv.messages = [];
  sv.info = { agent: "", visitor: "Visitor" };
  // The supervisor's own chat (it is also an agent) is already followed by the desk.
  const ch = client.channels.get(sid);
  sv.monitorOwn = !!(ch && ch.subscribed);
  renderMonitor();
  renderAgents();
  try {
    if (!sv.monitorOwn) await client.subscribe(sid);
    for (const m of await client.history(sid, { limit: 100 })) addMessage(m, false);
    renderMonitor();
  } catch (err) {
    if (sv.monitored === sid) renderMonitorNote("This chat cannot be monitored: " + /** @type {any} */ (err).message);
  }
}

async function stopMonitoring() {
  const sid = sv.monitored;
  sv.monitored = "";
  if (sid && !sv.monitorOwn) await /** @type {Deps} */ (sv.deps).client.unsubscribe(sid).catch(() => {});
}

/** @param {Json} m @param {boolean} [render] */
function addMessage(m, render = true) {
  if (sv.messages.some((x) => x.index === m.index)) return;
  sv.messages.push(m);
  sv.messages.sort((a, b) => a.index - b.index);
  if (render) renderMonitor();
}

function renderMonitor() {
  const box = $("sv-monitor");
  const hadFocus = !!document.activeElement && box.contains(document.activeElement);
  clear(box);
  if (!sv.monitored) {
    box.append(h("p", { className: "empty" }, "Choose a chat in the agents' list to follow it here (read-only)."));
    return;
  }
  const info = chatInfo(sv.monitored);
  const { identity } = /** @type {Deps} */ (sv.deps);
  const stop = h("button", { type: "button", className: "secondary stop" }, "Stop monitoring");
  stop.addEventListener("click", async () => { await stopMonitoring(); renderMonitor(); renderAgents(); });
  const log = h("div", { className: "log", role: "log", "aria-live": "polite", "aria-label": "Monitored messages" });
  for (const m of sv.messages) {
    // Agents' messages on the right, the visitor's on the left, as in the desk.
    const agent = agentOf(m.from);
    const who = m.from === identity ? "You" : agent ? agent.name : info.visitor;
    log.append(h("div", { className: "msg" + (m.from === identity ? " mine" : agent ? " agent" : ""), "data-index": m.index },
      h("span", { className: "meta" }, who), h("span", { className: "body" }, String(m.body || ""))));
  }
  box.append(
    h("div", { className: "head" }, h("strong", { className: "grow" }, info.visitor, info.agent ? " · with " + info.agent : ""), stop),
    h("p", { className: "hint", role: "note" }, "Read-only: you see the chat as it happens; the visitor does not see you."),
    log, h("p", { className: "sv-note", role: "status" }));
  log.scrollTop = log.scrollHeight;
  if (hadFocus) stop.focus(); // a message arriving does not take the keyboard's place away
}

/** @param {string} text */
function renderMonitorNote(text) {
  const note = document.querySelector("#sv-monitor .sv-note");
  if (note) note.textContent = text;
}
