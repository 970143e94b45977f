// Aegis dashboard. A plain client of the public API, no framework:
// - REST for the session list, pending permissions, create, kill, approve and reject;
// - SSE (/v1/events) to learn that something changed, so badges are live;
// - in a fleet (GET /v1/fleet/hosts answers), every host's sessions with their host, from
//   /v1/fleet/sessions and /v1/fleet/events; another host's terminal is not forwarded
//   (docs/fleet.md), so it is opened on that host's own dashboard;
// - the WebSocket terminal (/v1/sessions/:id/stream) rendered by xterm.js.
// The credential is the HttpOnly `aegis_token` cookie set by POST /v1/auth/cookie; this
// script never sees it after sign-in, the browser sends it with every request.
"use strict";

const $ = (id) => document.getElementById(id);

// SSE frames carry no `event:` line (Aegis v0.3's framing), so they all arrive at onmessage;
// our `type` tells them apart. These are the frames that are not session events.
const NOTICES = new Set(["connected", "heartbeat"]);

// The server's largest page (src/api/sessions.rs); a fleet larger than one page is fetched
// page by page.
const PAGE_LIMIT = 1000;

// Events arrive in bursts (a turn is several); one refetch covers a burst.
const REFRESH_DEBOUNCE_MS = 120;

// After the server refused the event stream for a reason other than sign-in (503 while a
// fleet's NATS is away), try again this often: the fleet recovers within seconds of NATS.
const EVENTS_RETRY_MS = 2000;

const state = {
  sessions: [],     // last GET /v1/sessions (every page), in the daemon's order
  fleet: null,      // null: a single daemon; else { self } (this node's host id)
  total: 0,         // pagination.total of that listing
  permissions: [],  // last GET /v1/permissions
  selected: null,   // id of the session shown in the terminal
  events: null,     // the EventSource
  refreshTimer: null,
  term: null,       // { xterm, fit, ws, observer } of the open terminal
};

class Unauthorized extends Error {}

async function api(method, path, body, headers = {}) {
  const init = { method, headers: { ...headers }, credentials: "same-origin" };
  if (body !== undefined) {
    init.headers["content-type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const res = await fetch(path, init);
  const data = await res.json().catch(() => ({}));
  if (res.status === 401) throw new Unauthorized(data.error || "unauthorized");
  if (!res.ok) throw new Error(data.error || `${res.status} ${res.statusText}`);
  return data;
}

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === "class") node.className = v;
    else if (k === "dataset") Object.assign(node.dataset, v);
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v);
  }
  node.append(...children);
  return node;
}

function badge(status) {
  return el("span", { class: "badge", dataset: { status } }, status.replace("_", " "));
}

function setConn(s, text) {
  $("conn").dataset.state = s;
  $("conn").textContent = text;
}

// ---- sign-in ------------------------------------------------------------------------------

function showLogin(message = "") {
  stopLive();
  $("app").hidden = true;
  $("logout").hidden = true;
  $("login").hidden = false;
  $("login-error").textContent = message;
  setConn("down", "signed out");
  $("token").focus();
}

async function signIn(event) {
  event.preventDefault();
  const token = $("token").value.trim();
  try {
    await api("POST", "/v1/auth/cookie", undefined, { authorization: `Bearer ${token}` });
    $("token").value = "";
    await start();
  } catch (e) {
    $("login-error").textContent = e instanceof Unauthorized ? "That token was refused." : e.message;
  }
}

async function signOut() {
  await api("DELETE", "/v1/auth/cookie").catch(() => {});
  showLogin();
}

// ---- live state ---------------------------------------------------------------------------

// Whether this daemon is in a fleet: /v1/fleet/hosts answers 404 on a single daemon.
async function detectFleet() {
  try {
    const hosts = await api("GET", "/v1/fleet/hosts");
    state.fleet = { self: hosts.self };
  } catch (e) {
    if (e instanceof Unauthorized) throw e;
    // A single daemon (404), or the fleet is away (503): list this host only meanwhile.
    state.fleet = null;
  }
}

async function start() {
  try {
    await detectFleet();
    await refresh();
  } catch (e) {
    if (e instanceof Unauthorized) return showLogin();
    setConn("down", e.message);
    return;
  }
  $("login").hidden = true;
  $("app").hidden = false;
  $("logout").hidden = false;
  openEvents();
}

function stopLive() {
  if (state.events) state.events.close();
  state.events = null;
  closeTerminal();
}

function openEvents() {
  if (state.events) state.events.close();
  const es = new EventSource(state.fleet ? "/v1/fleet/events" : "/v1/events");
  state.events = es;
  es.onopen = () => {
    setConn("live", "live");
    scheduleRefresh(); // catch up on anything missed while disconnected
  };
  es.onerror = () => {
    setConn("down", "reconnecting");
    // EventSource retries by itself when a stream ends (the fleet's ends when its node loses
    // NATS) unless the server refused the retry (closed; 503 while NATS is away): then find
    // out why, and keep trying unless the sign-in expired.
    if (es.readyState === EventSource.CLOSED) {
      refresh().then(() => setTimeout(openEvents, 1000), (e) => {
        if (e instanceof Unauthorized) return showLogin("Your session expired; sign in again.");
        setConn("down", e.message);
        setTimeout(openEvents, EVENTS_RETRY_MS);
      });
    }
  };
  es.onmessage = onEvent;
}

function onEvent(msg) {
  const ev = JSON.parse(msg.data || "{}");
  if (NOTICES.has(ev.type)) return;
  // A `reset` (events were lost) has no status: the refetch below repairs everything.
  // Otherwise update the badge at once; the refetch that follows brings the rest.
  const s = state.sessions.find((x) => x.id === ev.sessionId);
  if (s && ev.newStatus) {
    s.status = ev.newStatus;
    render();
  }
  scheduleRefresh();
}

function scheduleRefresh() {
  clearTimeout(state.refreshTimer);
  state.refreshTimer = setTimeout(() => {
    refresh().catch((e) => {
      if (e instanceof Unauthorized) showLogin("Your session expired; sign in again.");
    });
  }, REFRESH_DEBOUNCE_MS);
}

// Every page of GET /v1/sessions. A session created between two page reads can shift the
// pages; the next event's refetch repairs that, and duplicates are dropped here.
async function listSessions() {
  const route = state.fleet ? "/v1/fleet/sessions" : "/v1/sessions";
  const first = await api("GET", `${route}?limit=${PAGE_LIMIT}&page=1`);
  const pages = first.pagination ? first.pagination.totalPages : 1;
  const rest = await Promise.all(Array.from({ length: Math.max(0, pages - 1) },
    (_, i) => api("GET", `${route}?limit=${PAGE_LIMIT}&page=${i + 2}`)));
  const seen = new Set();
  const sessions = [first, ...rest].flatMap((r) => r.sessions || [])
    .filter((s) => !seen.has(s.id) && seen.add(s.id));
  return { sessions, total: first.pagination ? first.pagination.total : sessions.length };
}

async function refresh() {
  const [list, perms] = await Promise.all([listSessions(), api("GET", "/v1/permissions")]);
  state.sessions = list.sessions;
  state.total = list.total;
  state.permissions = perms.permissions || [];
  render();
}

// ---- rendering ----------------------------------------------------------------------------

function render() {
  const list = $("sessions");
  list.replaceChildren(...state.sessions.map((s) => el("li", {
    dataset: { id: s.id, name: s.name, status: s.status },
    "aria-selected": String(s.id === state.selected),
    onclick: () => select(s.id),
  }, el("span", { class: "name", title: s.name }, s.name),
  el("span", { class: "agent" }, ...(state.fleet ? [el("span", { class: "host" }, s.host || "?"), " · "] : []), s.agentType),
  badge(s.status))));
  $("session-count").textContent = state.total;
  $("session-empty").hidden = state.sessions.length > 0;

  $("permissions").replaceChildren(...state.permissions.map(renderPermission));
  $("perm-count").textContent = state.permissions.length;
  $("perm-empty").hidden = state.permissions.length > 0;

  const cur = state.sessions.find((s) => s.id === state.selected);
  $("term-badge").hidden = !cur;
  $("kill").hidden = !cur;
  if (cur) {
    $("term-badge").replaceWith(Object.assign(badge(cur.status), { id: "term-badge" }));
    $("kill").textContent = cur.status === "exited" ? "Remove" : "Kill";
  }
}

function renderPermission(p) {
  const answer = (verb) => async (event) => {
    event.target.disabled = true;
    try {
      await api("POST", `/v1/sessions/${p.sessionId}/${verb}`, { permissionId: p.id });
    } catch (e) {
      alert(`${verb} failed: ${e.message}`);
    }
    scheduleRefresh();
  };
  return el("li", { dataset: { id: p.id, session: p.sessionId } },
    el("span", { class: "who" }, `${p.sessionName} · ${p.kind}`),
    el("span", { class: "title" }, p.title || "Permission requested"),
    p.detail ? el("pre", {}, p.detail) : "",
    el("div", { class: "actions" },
      el("button", { class: "approve", type: "button", onclick: answer("approve") }, "Approve"),
      el("button", { class: "reject", type: "button", onclick: answer("reject") }, "Reject")));
}

// ---- terminal -----------------------------------------------------------------------------

function closeTerminal() {
  const t = state.term;
  state.term = null;
  if (!t) return;
  t.observer.disconnect();
  t.ws.close();
  t.xterm.dispose();
}

function select(id) {
  if (state.selected === id && state.term) return;
  closeTerminal();
  state.selected = id;
  render();
  const s = state.sessions.find((x) => x.id === id);
  $("term-title").textContent = s ? s.name : "Select a session";
  $("term-note").textContent = "connecting";
  if (state.fleet && s && s.host && s.host !== state.fleet.self) {
    // WebSocket terminals are not forwarded between hosts (the daemon answers 421).
    $("term-note").textContent = `on host ${s.host}: open that host's dashboard for its terminal`;
    return;
  }

  const xterm = new Terminal({
    fontFamily: 'ui-monospace, "DejaVu Sans Mono", Menlo, monospace',
    fontSize: 13,
    cursorBlink: true,
    theme: { background: "#14171f" },
  });
  const fit = new FitAddon.FitAddon();
  xterm.loadAddon(fit);
  xterm.open($("terminal"));
  fit.fit();

  const proto = location.protocol === "https:" ? "wss:" : "ws:";
  const ws = new WebSocket(`${proto}//${location.host}/v1/sessions/${encodeURIComponent(id)}/stream`);
  const send = (frame) => ws.readyState === WebSocket.OPEN && ws.send(JSON.stringify(frame));
  ws.onopen = () => {
    $("term-note").textContent = "live";
    send({ type: "resize", cols: xterm.cols, rows: xterm.rows });
  };
  ws.onmessage = (msg) => {
    const f = JSON.parse(msg.data);
    if (f.type === "tty_data") xterm.write(f.data);
    else if (f.type === "snapshot" || f.type === "resync") {
      xterm.reset();
      xterm.write(f.data);
    } else if (f.type === "error") console.warn("terminal:", f.message);
  };
  ws.onclose = (e) => {
    if (state.term && state.term.ws === ws) $("term-note").textContent = `closed${e.reason ? `: ${e.reason}` : ""}`;
  };
  xterm.onData((data) => send({ type: "input", data }));
  xterm.onResize(({ cols, rows }) => send({ type: "resize", cols, rows }));
  // Follow the panel's size; fit() resizes xterm, whose onResize tells the session.
  const observer = new ResizeObserver(() => fit.fit());
  observer.observe($("terminal"));
  state.term = { xterm, fit, ws, observer };
  xterm.focus();
}

async function killSelected() {
  const id = state.selected;
  const s = state.sessions.find((x) => x.id === id);
  if (!s || !confirm(`${s.status === "exited" ? "Remove" : "Kill"} session ${s.name}?`)) return;
  try {
    await api("DELETE", `/v1/sessions/${encodeURIComponent(id)}`);
  } catch (e) {
    alert(`kill failed: ${e.message}`);
  }
  closeTerminal();
  state.selected = null;
  $("term-title").textContent = "Select a session";
  $("term-note").textContent = "";
  scheduleRefresh();
}

async function createSession(event) {
  event.preventDefault();
  const f = new FormData(event.target);
  const body = { agentType: f.get("agentType"), workDir: f.get("workDir").trim() };
  const name = f.get("name").trim();
  if (name) body.name = name;
  const command = f.get("command").trim();
  if (command) body.command = command.split(/\s+/);
  $("create-error").textContent = "";
  try {
    const s = await api("POST", "/v1/sessions", body);
    await refresh();
    select(s.id);
  } catch (e) {
    $("create-error").textContent = e.message;
  }
}

// ---- wiring -------------------------------------------------------------------------------

$("login-form").addEventListener("submit", signIn);
$("logout").addEventListener("click", signOut);
$("create-form").addEventListener("submit", createSession);
$("kill").addEventListener("click", killSelected);
start();
