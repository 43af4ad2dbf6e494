// The Convoflow chat page: your sessions, a chat whose replies stream in over AG-UI, and
// the session's status. Plain ES modules, no build step.
import {
  ApiError, Dropped, describe, forgetToken, getJson, getToken, runAgent, setToken,
} from "./api.js";
import { renderMarkdown } from "./md.js";
import { showStatus, clearStatus } from "./status.js";

const $ = (id) => document.getElementById(id);
const RECONNECT_DELAYS_MS = [250, 500, 1000, 2000, 4000, 4000, 4000, 4000];
const state = { me: null, sessionId: null, listing: null };

// ---------------------------------------------------------------- messages on the page

function bubble(role, text, id) {
  const item = document.createElement("li");
  item.className = `msg ${role}`;
  if (id) item.dataset.messageId = id;
  const body = document.createElement("div");
  body.className = "body";
  item.append(body);
  setText(item, role, text);
  $("messages").append(item);
  $("empty").hidden = true;
  item.scrollIntoView({ block: "end" });
  return item;
}

function setText(item, role, text) {
  const body = item.querySelector(".body");
  if (role === "assistant") body.replaceChildren(renderMarkdown(text));
  else body.textContent = text; // user text and errors: plain text, never markup
}

function note(item, text) {
  let line = item.querySelector(".note");
  if (!text) {
    line?.remove();
    return;
  }
  if (!line) {
    line = document.createElement("span");
    line.className = "note";
    item.append(line);
  }
  line.textContent = text;
}

function notice(text, kind = "error") {
  const box = $("notice");
  box.hidden = !text;
  box.className = kind;
  box.textContent = text || "";
}

// ---------------------------------------------------------------- one turn (AG-UI run)

/** One line per tool call in the reply ("tool lookup_order … ok: …"), text only. */
function toolLine(item, callId, text, status) {
  let list = item.querySelector(".tools");
  if (!list) {
    list = document.createElement("ul");
    list.className = "tools";
    item.querySelector(".body").before(list);
  }
  let line = [...list.children].find((child) => child.dataset.callId === callId);
  if (!line) {
    line = document.createElement("li");
    line.dataset.callId = callId;
    list.append(line);
  }
  line.dataset.status = status;
  line.textContent = text; // a tool's name, input and result are data, never markup
}

// What each AG-UI event does to the turn. A slot for what the engine does not have yet:
//   RUN_FINISHED with outcome {type: "interrupt"}: approval requests with Approve/Deny,
//     answered by the next run's `resume` (approvals issue).
const handlers = {
  TOOL_CALL_START(turn, event) {
    turn.tools = turn.tools || {};
    turn.tools[event.toolCallId] = { name: event.toolCallName, args: "" };
    toolLine(turn.item, event.toolCallId, `tool ${event.toolCallName}…`, "running");
  },
  TOOL_CALL_ARGS(turn, event) {
    const call = turn.tools?.[event.toolCallId];
    if (call) call.args += event.delta;
  },
  TOOL_CALL_END(turn, event) {
    const call = turn.tools?.[event.toolCallId];
    if (call) toolLine(turn.item, event.toolCallId, `tool ${call.name} ${call.args}…`, "running");
  },
  TOOL_CALL_RESULT(turn, event) {
    const call = turn.tools?.[event.toolCallId] || { name: "tool", args: "" };
    const text = `tool ${call.name} ${call.args} → ${String(event.content).slice(0, 300)}`;
    toolLine(turn.item, event.toolCallId, text, "done");
  },
  RUN_STARTED(turn) { note(turn.item, ""); },
  TEXT_MESSAGE_START() {},
  TEXT_MESSAGE_CONTENT(turn, event) {
    turn.incoming += event.delta;
    // A resent run replays the reply from its start: show only what is new.
    if (turn.shown.startsWith(turn.incoming)) return;
    turn.shown = turn.incoming;
    setText(turn.item, "assistant", turn.shown);
  },
  TEXT_MESSAGE_END() {},
  CUSTOM(turn, event) {
    if (event.name === "convoflow.text_restart") {
      turn.incoming = "";
      turn.shown = "";
      setText(turn.item, "assistant", "");
    }
  },
  STATE_SNAPSHOT(turn, event) {
    if (event.snapshot?.session && state.sessionId === turn.sessionId) {
      showStatus(event.snapshot.session, state.me, state.sessionId);
    }
  },
  RUN_FINISHED(turn, event) {
    turn.shown = event.result?.reply ?? turn.shown;
    setText(turn.item, "assistant", turn.shown);
    turn.item.dataset.state = "done";
    turn.over = true;
  },
  RUN_ERROR(turn, event) {
    throw new ApiError(0, event.code, event.message);
  },
};

// Per-reply controls the engine cannot serve yet, kept empty on purpose (no fake buttons):
// stop (cancel the running turn: steering issue) and regenerate (the last reply).
const replyControls = { stop: null, regenerate: null };

function runInput(turn) {
  return {
    threadId: turn.sessionId,
    runId: turn.runId,
    messages: [{ id: turn.runId, role: "user", content: turn.text }],
    state: {}, tools: [], context: [], forwardedProps: {},
  };
}

async function follow(turn) {
  turn.incoming = "";
  for await (const event of runAgent(runInput(turn))) {
    const handle = handlers[event.type];
    if (handle) handle(turn, event);
    if (turn.over) return;
  }
  throw new Dropped("the stream ended before the run finished");
}

function pause(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Run the turn; after a dropped connection send the same run again (same runId: the
 *  session answers it once and keeps its reply), so no text is lost or repeated. */
async function runTurn(turn) {
  for (let attempt = 0; ; attempt++) {
    try {
      await follow(turn);
      return;
    } catch (err) {
      const dropped = err instanceof Dropped || err instanceof TypeError;
      const transient = err instanceof ApiError && [409, 429, 503].includes(err.status);
      if ((dropped || (transient && turn.reconnecting)) && attempt < RECONNECT_DELAYS_MS.length) {
        turn.reconnecting = true;
        note(turn.item, `${describe(err)} Reconnecting…`);
        await pause(RECONNECT_DELAYS_MS[attempt]);
        continue;
      }
      if (dropped && (await fromHistory(turn))) return;
      fail(turn, err);
      return;
    }
  }
}

/** Last resort after repeated drops: the reply as the session keeps it, if it is there. */
async function fromHistory(turn) {
  try {
    const { messages } = await getJson(`/sessions/${encodeURIComponent(turn.sessionId)}/history?limit=20`);
    const reply = messages.find((m) => m.reply_to === turn.runId && m.role === "assistant");
    if (!reply) return false;
    handlers.RUN_FINISHED(turn, { result: { reply: reply.message } });
    note(turn.item, "");
    return true;
  } catch {
    return false;
  }
}

function fail(turn, err) {
  turn.item.className = "msg error";
  turn.item.dataset.state = "failed";
  note(turn.item, "");
  setText(turn.item, "error", describe(err));
  if (err instanceof ApiError && (err.status === 401 || err.code === "Unauthorized")) askToken();
}

async function send(text) {
  if (!state.sessionId) newChat();
  const runId = crypto.randomUUID();
  const sessionId = state.sessionId;
  bubble("user", text, runId);
  const item = bubble("assistant", "", `${runId}.reply`);
  item.dataset.state = "streaming";
  const turn = { sessionId, runId, text, item, incoming: "", shown: "", over: false };
  await runTurn(turn);
  loadSessions();
}

// ---------------------------------------------------------------- sessions and history

function sessionButton(row) {
  const button = document.createElement("button");
  button.type = "button";
  button.dataset.sessionId = row.session_id;
  if (row.session_id === state.sessionId) button.setAttribute("aria-current", "true");
  const id = document.createElement("span");
  id.className = "session-id";
  id.textContent = row.session_id;
  const meta = document.createElement("span");
  meta.className = "session-meta";
  const when = row.last_activity ? new Date(row.last_activity).toLocaleString() : "";
  meta.textContent = `${row.status} · ${when}`;
  const last = document.createElement("span");
  last.className = "session-last";
  last.textContent = row.last_message ? row.last_message.text : "";
  button.append(id, meta, last);
  button.addEventListener("click", () => openSession(row.session_id));
  const item = document.createElement("li");
  item.append(button);
  return item;
}

async function loadSessions() {
  try {
    const listing = await getJson("/sessions");
    state.listing = listing;
    state.me = listing;
    $("who").textContent = `${listing.user_id} @ ${listing.tenant_id}`;
    $("forget-token").hidden = !getToken();
    $("session-list").replaceChildren(...listing.sessions.map(sessionButton));
    $("no-sessions").hidden = listing.sessions.length > 0;
    return true;
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) askToken(describe(err));
    else notice(describe(err));
    return false;
  }
}

async function openSession(sessionId) {
  state.sessionId = sessionId;
  history.replaceState(null, "", `#session=${encodeURIComponent(sessionId)}`);
  $("messages").replaceChildren();
  $("empty").hidden = false;
  $("sidebar").classList.remove("open");
  for (const b of $("session-list").querySelectorAll("button")) {
    b.toggleAttribute("aria-current", b.dataset.sessionId === sessionId);
  }
  notice("");
  const path = `/sessions/${encodeURIComponent(sessionId)}`;
  try {
    const { messages } = await getJson(`${path}/history`);
    if (state.sessionId !== sessionId) return;
    for (const m of messages) {
      const role = m.role === "user" ? "user" : m.role === "error" ? "error" : "assistant";
      const item = bubble(role, m.message, m.role === "user" ? m.message_id : `${m.reply_to}.reply`);
      item.dataset.state = "done";
    }
    showStatus(await getJson(`${path}/status`), state.me, sessionId);
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) clearStatus("new session (starts with your first message)");
    else notice(describe(err));
  }
}

function newChat() {
  const id = `web-${crypto.randomUUID().replaceAll("-", "").slice(0, 12)}`;
  state.sessionId = id;
  history.replaceState(null, "", `#session=${id}`);
  $("messages").replaceChildren();
  $("empty").hidden = false;
  clearStatus("new session (starts with your first message)");
  $("input").focus();
}

// ---------------------------------------------------------------- token and start-up

function askToken(reason) {
  forgetToken();
  if (reason) $("token-reason").textContent = reason;
  $("token-dialog").hidden = false;
  $("token-input").focus();
}

async function start() {
  $("composer").addEventListener("submit", (event) => {
    event.preventDefault();
    const text = $("input").value;
    if (!text.trim()) return;
    $("input").value = "";
    send(text);
  });
  $("input").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      $("composer").requestSubmit();
    }
  });
  $("new-chat").addEventListener("click", newChat);
  $("toggle-sessions").addEventListener("click", () => {
    const open = $("sidebar").classList.toggle("open");
    $("toggle-sessions").setAttribute("aria-expanded", String(open));
  });
  $("forget-token").addEventListener("click", () => askToken());
  $("token-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    setToken($("token-input").value);
    $("token-input").value = "";
    $("token-dialog").hidden = true;
    if (await loadSessions()) openFromAddress();
  });
  window.addEventListener("hashchange", openFromAddress);
  if (await loadSessions()) openFromAddress();
}

function openFromAddress() {
  const match = /^#session=(.+)$/.exec(location.hash);
  const wanted = match ? decodeURIComponent(match[1]) : null;
  if (wanted && wanted !== state.sessionId) openSession(wanted);
  else if (!wanted && !state.sessionId) newChat();
}

start();
