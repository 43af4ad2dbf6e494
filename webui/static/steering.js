// Steering the open session from the page: Stop (cancel the running turn: its partial reply
// stays, marked "stopped") and Regenerate (the last reply, when nothing runs: the new reply
// becomes current, the old one an earlier version of it).
import { describe, getJson, postJson } from "./api.js";
import { $, keepEarlier, note, notice, showReply } from "./messages.js";
import { showStatus } from "./status.js";

const busy = new Map(); // session id -> turns this page is running in it (streams, regenerates)
const IDLE_RETRIES_MS = [200, 400, 800];
let state = null;
let afterTurn = () => {};

/** Wire the Stop button; ``page`` is the page's state (open session, caller). */
export function initSteering(page, { onTurnOver } = {}) {
  state = page;
  afterTurn = onTurnOver || afterTurn;
  $("stop").addEventListener("click", stop);
}

export function turnStarted(sessionId) {
  busy.set(sessionId, (busy.get(sessionId) || 0) + 1);
  refreshControls();
}

export function turnEnded(sessionId) {
  const left = (busy.get(sessionId) || 1) - 1;
  if (left > 0) busy.set(sessionId, left);
  else busy.delete(sessionId);
  refreshControls();
}

function running(sessionId) {
  return (busy.get(sessionId) || 0) > 0;
}

/** Stop while the open session runs a turn; Regenerate on its last reply when it does not. */
export function refreshControls() {
  const sessionId = state?.sessionId;
  const stopButton = $("stop");
  const hadFocus = document.activeElement;
  stopButton.hidden = !running(sessionId);
  for (const old of $("messages").querySelectorAll(".actions")) old.remove();
  const last = $("messages").lastElementChild;
  if (!running(sessionId) && last?.classList.contains("assistant") && last.dataset.state === "done") {
    const actions = document.createElement("div");
    actions.className = "actions";
    const button = document.createElement("button");
    button.type = "button";
    button.className = "regenerate";
    button.textContent = "Regenerate";
    button.setAttribute("aria-label", "Regenerate the last reply");
    button.addEventListener("click", () => regenerate(last));
    actions.append(button);
    last.append(actions);
  }
  // A control that had the focus and went away hands it to the message box.
  if (hadFocus && hadFocus !== document.body && !hadFocus.isConnected) $("input").focus();
  if (hadFocus === stopButton && stopButton.hidden) $("input").focus();
}

function sessionPath(sessionId) {
  return `/sessions/${encodeURIComponent(sessionId)}`;
}

/** Cancel the running turn. Its stream ends with the partial reply (RUN_FINISHED,
 *  stop_reason "cancelled"), which the turn marks as stopped. */
async function stop() {
  const sessionId = state.sessionId;
  const button = $("stop");
  // Not `disabled`: that would take the keyboard focus away from the button.
  if (button.getAttribute("aria-disabled") === "true") return;
  button.setAttribute("aria-disabled", "true");
  button.textContent = "Stopping…";
  try {
    for (const delay of [...IDLE_RETRIES_MS, null]) {
      const result = await postJson(`${sessionPath(sessionId)}/cancel`);
      // "idle" while this page still waits for a reply: the session has accepted the
      // message but not started its turn yet. Ask again shortly.
      if (result.status !== "idle" || !running(sessionId) || delay === null) break;
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  } catch (err) {
    notice(describe(err, "stop"));
  } finally {
    button.removeAttribute("aria-disabled");
    button.textContent = "Stop";
  }
}

/** Run the last message again; the new reply replaces ``item``'s (kept as earlier). */
async function regenerate(item) {
  const sessionId = state.sessionId;
  notice("");
  item.dataset.state = "regenerating";
  note(item, "Regenerating…");
  turnStarted(sessionId);
  try {
    const reply = await postJson(`${sessionPath(sessionId)}/regenerate`);
    if (item.isConnected) {
      keepEarlier(item);
      showReply(item, reply.reply, reply.reply_message_id, reply.stop_reason);
    }
  } catch (err) {
    if (item.isConnected) {
      item.dataset.state = "done";
      note(item, item.hasAttribute("data-stopped") ? "stopped" : "");
    }
    if (state.sessionId === sessionId) notice(describe(err, "regenerate"));
  } finally {
    turnEnded(sessionId);
    afterTurn();
  }
  if (state.sessionId !== sessionId) return;
  try {
    showStatus(await getJson(`${sessionPath(sessionId)}/status`), state.me, sessionId);
  } catch {
    // the panel keeps what it showed; the reply is what matters here
  }
}
