// The Convoflow chat page: your sessions, a chat whose replies stream in over AG-UI, and
// the session's status. Plain ES modules, no build step.
import {
  ApiError, Dropped, describe, forgetToken, getJson, getToken, runAgent, setToken,
} from "./api.js";
import { $, bubble, note, notice, setText, showHistory, showReply, toolLine } from "./messages.js";
import { showStatus, clearStatus } from "./status.js";
import { initSteering, refreshControls, turnEnded, turnStarted } from "./steering.js";

const RECONNECT_DELAYS_MS = [250, 500, 1000, 2000, 4000, 4000, 4000, 4000];
const state = { me: null, sessionId: null, listing: null };

// ---------------------------------------------------------------- one turn (AG-UI run)

// What each AG-UI event does to the turn. A RUN_FINISHED with outcome {type: "interrupt"}
// pauses it for approval: Approve/Deny buttons, answered by the next run's `resume`.
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
    if (event.outcome?.type === "interrupt") {
      turn.interrupts = event.outcome.interrupts || [];
      turn.over = true;
      return;
    }
    turn.interrupts = null;
    const result = event.result || {};
    turn.shown = result.reply ?? turn.shown;
    // A cancelled turn (Stop, or a cancel from elsewhere) ends here with its partial reply.
    showReply(turn.item, turn.shown, result.reply_message_id, result.stop_reason);
    turn.over = true;
  },
  RUN_ERROR(turn, event) {
    throw new ApiError(0, event.code, event.message);
  },
};

function runInput(turn) {
  const common = { threadId: turn.sessionId, state: {}, tools: [], context: [], forwardedProps: {} };
  if (turn.resume) return { ...common, runId: turn.resume.runId, messages: [], resume: turn.resume.entries };
  return { ...common, runId: turn.runId, messages: [{ id: turn.runId, role: "user", content: turn.text }] };
}

/** Approve/Deny for each tool call the paused turn waits on; resolves with the resume. */
function askApproval(turn) {
  return new Promise((resolve) => {
    const box = document.createElement("div");
    box.className = "approvals";
    const answers = new Map();
    for (const interrupt of turn.interrupts) {
      const row = document.createElement("div");
      row.className = "approval";
      const label = document.createElement("span");
      const meta = interrupt.metadata || {};
      label.textContent = `${meta.tool || "tool"} ${JSON.stringify(meta.input || {})}: ${interrupt.message || ""}`;
      row.append(label);
      for (const [text, approved] of [["Approve", true], ["Deny", false]]) {
        const button = document.createElement("button");
        button.type = "button";
        button.textContent = text;
        button.className = approved ? "approve" : "deny";
        button.setAttribute("aria-label", `${text} ${meta.tool || "tool"}`);
        button.addEventListener("click", () => {
          answers.set(interrupt.id, { interruptId: interrupt.id, status: "resolved", payload: { approved } });
          row.replaceChildren(`${meta.tool || "tool"}: ${approved ? "approved" : "denied"}`);
          if (answers.size === turn.interrupts.length) {
            box.remove();
            resolve({ runId: crypto.randomUUID(), entries: [...answers.values()] });
          }
        });
        row.append(button);
      }
      box.append(row);
    }
    turn.item.append(box);
    note(turn.item, "waiting for your approval");
  });
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
    const reply = messages.find(
      (m) => m.reply_to === turn.runId && m.role === "assistant" && !m.metadata?.alternative,
    );
    if (!reply) return false;
    const stopReason = reply.metadata?.stop_reason;
    handlers.RUN_FINISHED(turn, {
      result: { reply: reply.message, reply_message_id: reply.message_id, stop_reason: stopReason },
    });
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
  turnStarted(sessionId);
  try {
    await runTurn(turn);
    while (turn.interrupts?.length) {  // paused for approval: answer, then follow the rest
      turn.resume = await askApproval(turn);
      note(turn.item, "");
      turn.over = false;
      await runTurn(turn);
    }
  } finally {
    turnEnded(sessionId);
  }
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
  refreshControls();
  $("sidebar").classList.remove("open");
  for (const b of $("session-list").querySelectorAll("button")) {
    b.toggleAttribute("aria-current", b.dataset.sessionId === sessionId);
  }
  notice("");
  const path = `/sessions/${encodeURIComponent(sessionId)}`;
  try {
    const { messages } = await getJson(`${path}/history`);
    if (state.sessionId !== sessionId) return;
    showHistory(messages);
    refreshControls();
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
  refreshControls();
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
  initSteering(state, { onTurnOver: () => loadSessions() });
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
