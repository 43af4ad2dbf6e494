// The status panel: what the session's status query says, and where operators find it.

const $ = (id) => document.getElementById(id);

function relative(iso) {
  const seconds = Math.round((new Date(iso).getTime() - Date.now()) / 1000);
  const minutes = Math.round(Math.abs(seconds) / 60);
  const span = minutes >= 120 ? `${Math.round(minutes / 60)} h` : `${minutes} min`;
  return seconds >= 0 ? `in ${span}` : `${span} ago`;
}

function rows(pairs) {
  const list = $("status");
  list.replaceChildren();
  for (const [label, value] of pairs) {
    const dt = document.createElement("dt");
    dt.textContent = label;
    const dd = document.createElement("dd");
    dd.textContent = value;
    dd.dataset.field = label;
    list.append(dt, dd);
  }
}

/** Show a SessionStatus; `me` is the GET /sessions answer (tenant, Temporal UI base URL). */
export function showStatus(status, me, sessionId) {
  rows([
    ["session", sessionId],
    ["status", status.status],
    ["step", status.current_step],
    ["queued", String(status.queued)],
    ["turns", String(status.turns)],
    ["messages", String(status.total_messages)],
    ["last activity", new Date(status.last_activity).toLocaleString()],
    ["expires", `${new Date(status.expires_at).toLocaleString()} (${relative(status.expires_at)})`],
  ]);
  const issues = $("issues");
  issues.replaceChildren();
  for (const text of status.issues.length ? status.issues : []) {
    const li = document.createElement("li");
    li.textContent = text;
    issues.append(li);
  }
  if (!status.issues.length) {
    const li = document.createElement("li");
    li.className = "muted";
    li.textContent = "none";
    issues.append(li);
  }
  const link = $("temporal-link");
  if (me && me.temporal_ui_url) {
    const workflowId = `convoflow:${me.tenant_id}:${sessionId}`;
    link.href = `${me.temporal_ui_url}/namespaces/${encodeURIComponent(me.namespace)}` +
      `/workflows/${encodeURIComponent(workflowId)}`;
    link.hidden = false;
  }
}

/** An empty panel with one line of explanation (a session that has not started yet). */
export function clearStatus(text) {
  rows([["status", text]]);
  $("issues").replaceChildren();
  $("temporal-link").hidden = true;
}
