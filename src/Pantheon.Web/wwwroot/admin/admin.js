// Operations page: sagas and projects, kept current over the /ws WebSocket. The token is pasted (development)
// or passed as #token=...; it stays in this tab's sessionStorage only.
"use strict";
const state = { token: sessionStorage.getItem("pantheon.token") || "", socket: null };
const $ = (id) => document.getElementById(id);

function say(text) { $("message").textContent = text || ""; }

async function api(path, options = {}) {
  const response = await fetch(path, { ...options, headers: { Authorization: `Bearer ${state.token}`, "Content-Type": "application/json", ...(options.headers || {}) } });
  if (!response.ok) {
    const problem = await response.json().catch(() => ({}));
    throw new Error(`${response.status} ${problem.title || ""} ${problem.detail || ""}`.trim());
  }
  return response.status === 204 ? null : response.json();
}

function cell(row, text, className) {
  const td = row.insertCell();
  td.textContent = text ?? "";
  if (className) td.className = className;
  return td;
}

// The dashboard: counts per status, one filtered page at a time (in flight and failed first), operator buttons per row.
const dashboard = { after: null, next: null };
const operations = { ready: ["stop", "restart"], stopped: ["start"] };

async function loadSagas() {
  const body = $("sagas").tBodies[0];
  const query = new URLSearchParams({ limit: "50" });
  if ($("filter-status").value) query.set("status", $("filter-status").value);
  if ($("filter-owner").value.trim()) query.set("owner", $("filter-owner").value.trim());
  if (dashboard.after) query.set("after", dashboard.after);
  try {
    const page = await api(`/api/admin/sagas?${query}`);
    $("counts").replaceChildren(...Object.entries(page.counts).map(([status, count]) => {
      const span = document.createElement("span");
      span.className = `status-${status}`;
      span.dataset.status = status;
      span.textContent = `${status}: ${count}`;
      return span;
    }));
    body.replaceChildren();
    for (const s of page.items) {
      const row = body.insertRow();
      row.dataset.projectId = s.project_id;
      cell(row, s.project_name).title = s.project_id;
      cell(row, s.owner_id);
      cell(row, s.project_status, `status-${s.project_status}`).dataset.role = "status";
      cell(row, s.step);
      cell(row, s.attempts);
      cell(row, `${Math.round(s.age_seconds)} s`);
      cell(row, s.waiting_on_timeout ? "yes" : "no");
      cell(row, s.last_error);
      const buttons = cell(row, "");
      for (const action of operations[s.project_status] || []) {
        const button = document.createElement("button");
        button.type = "button";
        button.dataset.action = action;
        button.textContent = action[0].toUpperCase() + action.slice(1);
        button.addEventListener("click", () => operate(s.project_id, action));
        buttons.append(button);
      }
    }
    dashboard.next = page.next_after;
    $("next-page").disabled = !page.next_after;
  } catch (e) {
    say(`Sagas: ${e.message}`);
  }
}

async function operate(projectId, action) {
  try {
    await api(`/api/admin/projects/${projectId}/${action}`, { method: "POST" });
    say("");
    await loadSagas();
  } catch (e) {
    say(`${action}: ${e.message}`);
  }
}

// A ticket is single-use and short-lived, so it is asked for on the click; the tab opens first, while the click counts.
async function connectViewer(projectId) {
  const tab = window.open("", "_blank");
  try {
    const ticket = await api(`/api/projects/${projectId}/viewer-ticket`, { method: "POST" });
    if (tab) tab.location.href = ticket.url; else location.assign(ticket.url);
  } catch (e) {
    tab?.close();
    say(`Connect: ${e.message}`);
  }
}

async function loadProjects() {
  const body = $("projects").tBodies[0];
  const projects = [];
  let after = null;
  do {
    const page = await api(`/api/projects?limit=500${after ? `&after=${after}` : ""}`);
    projects.push(...page.items);
    after = page.next_after;
  } while (after);
  body.replaceChildren();
  for (const p of projects) {
    const row = body.insertRow();
    row.dataset.projectId = p.id;
    cell(row, p.name);
    cell(row, p.id);
    cell(row, p.status, `status-${p.status}`).dataset.role = "status";
    cell(row, p.subnet);
    cell(row, p.vm_address);
    cell(row, p.failure_reason);
    const viewer = cell(row, "");
    if (p.status === "ready") {
      const link = document.createElement("a");
      link.href = "#";
      link.dataset.action = "connect";
      link.textContent = "Connect";
      link.addEventListener("click", (e) => { e.preventDefault(); connectViewer(p.id); });
      viewer.append(link);
    }
  }
}

function connect() {
  state.socket?.close();
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const socket = new WebSocket(`${scheme}://${location.host}/ws?access_token=${encodeURIComponent(state.token)}`);
  state.socket = socket;
  socket.onopen = () => socket.send(JSON.stringify({ type: "subscribe", channel: "project-updates" }));
  socket.onmessage = (event) => {
    const message = JSON.parse(event.data);
    if (message.type === "subscribed") { $("live").textContent = "live"; $("live").className = "on"; }
    if (message.type === "project-updated") {
      const status = document.querySelector(`#projects tr[data-project-id="${message.project_id}"] [data-role="status"]`);
      if (status) { status.textContent = message.status; status.className = `status-${message.status}`; }
      loadProjects().catch((e) => say(`Projects: ${e.message}`)); // subnet, VM and failure come with the full row
      loadSagas();
    }
    if (message.type === "error") say(message.message);
  };
  socket.onclose = (event) => {
    $("live").textContent = "offline"; $("live").className = "off";
    if (state.socket === socket && event.code !== 1000) setTimeout(connect, 2000);
  };
}

async function signIn(token) {
  state.token = token.trim();
  sessionStorage.setItem("pantheon.token", state.token);
  say("");
  try {
    await loadProjects();
    await loadSagas();
    connect();
  } catch (e) {
    say(`Sign-in failed: ${e.message}`);
  }
}

$("filters").addEventListener("submit", (e) => { e.preventDefault(); dashboard.after = null; loadSagas(); });
$("first-page").addEventListener("click", () => { dashboard.after = null; loadSagas(); });
$("next-page").addEventListener("click", () => { dashboard.after = dashboard.next; loadSagas(); });
$("signin").addEventListener("submit", (e) => { e.preventDefault(); signIn($("token").value); });
$("create").addEventListener("submit", async (e) => {
  e.preventDefault();
  try {
    await api("/api/projects", { method: "POST", body: JSON.stringify({ name: $("name").value }) });
    $("name").value = "";
    await loadProjects();
  } catch (err) {
    say(`Create: ${err.message}`);
  }
});

const fromFragment = new URLSearchParams(location.hash.slice(1)).get("token");
if (fromFragment) { history.replaceState(null, "", location.pathname); signIn(fromFragment); }
else if (state.token) signIn(state.token);
