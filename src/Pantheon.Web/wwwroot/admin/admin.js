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

async function loadSagas() {
  const body = $("sagas").tBodies[0];
  try {
    const sagas = await api("/api/admin/sagas");
    body.replaceChildren();
    for (const s of sagas) {
      const row = body.insertRow();
      row.dataset.projectId = s.project_id;
      cell(row, s.project_name || s.project_id);
      cell(row, s.owner_id);
      cell(row, s.step);
      cell(row, s.project_status || "deleted", `status-${s.project_status}`);
      cell(row, s.attempts);
      cell(row, `${Math.round(s.age_seconds)} s`);
      cell(row, s.waiting_on_timeout ? "yes" : "no");
      cell(row, s.last_error);
    }
  } catch (e) {
    say(`Sagas: ${e.message}`);
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
