// The messages on the page: bubbles, their notes and tool lines, a stopped reply, the
// earlier versions a regenerated reply keeps, and a session's history as the page shows it.
import { renderMarkdown } from "./md.js";

export const $ = (id) => document.getElementById(id);

/** The raw text of each bubble (what it shows, before markdown). */
const texts = new WeakMap();

export function bubble(role, text, id) {
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

export function setText(item, role, text) {
  const body = item.querySelector(".body");
  texts.set(item, text);
  if (role === "assistant") body.replaceChildren(renderMarkdown(text));
  else body.textContent = text; // user text and errors: plain text, never markup
}

export function note(item, text) {
  let line = item.querySelector(":scope > .note");
  if (!text) {
    line?.remove();
    return;
  }
  if (!line) {
    line = document.createElement("span");
    line.className = "note";
    item.querySelector(".body").after(line);
  }
  line.textContent = text;
}

export function notice(text, kind = "error") {
  const box = $("notice");
  box.hidden = !text;
  box.className = kind;
  box.textContent = text || "";
}

/** One line per tool call in the reply ("tool lookup_order … ok: …"), text only. */
export function toolLine(item, callId, text, status) {
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

/** Show a finished reply: its text, its stored id, and "stopped" if it was cancelled. */
export function showReply(item, text, replyId, stopReason) {
  setText(item, "assistant", text);
  if (replyId) item.dataset.replyId = replyId;
  item.dataset.state = "done";
  item.toggleAttribute("data-stopped", stopReason === "cancelled");
  note(item, stopReason === "cancelled" ? "stopped" : "");
}

/** Keep what ``item`` shows as an earlier version of it (a regenerated reply replaces it). */
export function keepEarlier(item) {
  addEarlier(item, texts.get(item) ?? "", item.hasAttribute("data-stopped"));
}

function addEarlier(item, text, stopped) {
  let box = item.querySelector("details.earlier");
  if (!box) {
    box = document.createElement("details");
    box.className = "earlier";
    box.append(document.createElement("summary"), document.createElement("ol"));
    item.append(box);
  }
  const version = document.createElement("li");
  version.append(renderMarkdown(text));
  if (stopped) {
    const mark = document.createElement("span");
    mark.className = "note";
    mark.textContent = "stopped";
    version.append(mark);
  }
  const list = box.querySelector("ol");
  list.append(version);
  const count = list.children.length;
  box.querySelector("summary").textContent = `${count} earlier version${count > 1 ? "s" : ""}`;
}

function stopReasonOf(message) {
  return message.metadata?.stop_reason ?? null;
}

/** A session's kept messages, oldest first: each reply once, the current one, with the
 *  replies it replaced (``metadata.alternative``) as its earlier versions. */
export function showHistory(messages) {
  const earlier = new Map(); // user message id -> replaced replies, oldest first
  for (const m of messages) {
    if (m.role === "assistant" && m.metadata?.alternative) {
      if (!earlier.has(m.reply_to)) earlier.set(m.reply_to, []);
      earlier.get(m.reply_to).push(m);
    }
  }
  for (const m of messages) {
    if (m.role === "assistant" && m.metadata?.alternative) continue;
    if (m.role === "user") {
      bubble("user", m.message, m.message_id).dataset.state = "done";
      continue;
    }
    const role = m.role === "error" ? "error" : "assistant";
    const item = bubble(role, m.message, `${m.reply_to}.reply`);
    item.dataset.state = "done";
    if (role !== "assistant") continue;
    for (const old of earlier.get(m.reply_to) || []) {
      addEarlier(item, old.message, stopReasonOf(old) === "cancelled");
    }
    earlier.delete(m.reply_to);
    showReply(item, m.message, m.message_id, stopReasonOf(m));
  }
  for (const replaced of earlier.values()) { // a current reply the window no longer keeps
    for (const old of replaced) {
      const item = bubble("assistant", old.message, `${old.reply_to}.reply`);
      showReply(item, old.message, old.message_id, stopReasonOf(old));
      item.classList.add("replaced");
    }
  }
}
