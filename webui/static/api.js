// Talking to the gateway: the bearer token (sessionStorage only, never in a URL), JSON
// routes, the AG-UI run stream (POST /ag-ui, Server-Sent Events read from fetch), and
// the gateway's errors in words.

const TOKEN_KEY = "convoflow.token";

export function getToken() {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function setToken(token) {
  sessionStorage.setItem(TOKEN_KEY, token.trim());
}

export function forgetToken() {
  sessionStorage.removeItem(TOKEN_KEY);
}

/** An error answer of the gateway (an HTTP status, or a RUN_ERROR with a code). */
export class ApiError extends Error {
  constructor(status, code, message, retryAfter = null) {
    super(message);
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
  }
}

/** The stream broke before the run said it was over (network drop, server gone). */
export class Dropped extends Error {}

const STATUS_OF_CODE = {
  Unauthorized: 401, SessionNotFound: 404, SessionBusy: 409, PromptTooLong: 413,
  PayloadTooLarge: 413, RateLimited: 429, TurnFailed: 502, Unavailable: 503,
  TemporalUnavailable: 503,
};

/** What went wrong, in words a person can act on (``action``: "stop" or "regenerate" when
 *  the error answers that button rather than a message). */
export function describe(err, action = "send") {
  if (err instanceof Dropped || err instanceof TypeError) {
    return "The connection to the gateway was lost.";
  }
  if (!(err instanceof ApiError)) return `Something went wrong: ${err.message}`;
  if (err.code === "NothingToRegenerate") return "Nothing to regenerate: send a message first.";
  if (action === "regenerate" && err.code === "SessionBusy") {
    return "This session is busy: a reply is still running. Wait for it, then regenerate.";
  }
  if (action !== "send" && err.status === 404) {
    return `Could not ${action}: no such session (it has not started, or it belongs to someone else).`;
  }
  const status = err.status || STATUS_OF_CODE[err.code] || 0;
  switch (status) {
    case 400: return `The gateway refused the request: ${err.message}`;
    case 401: return `Not signed in: the gateway did not accept your token (${err.message}).`;
    case 404: return "No such session (it does not exist, or it belongs to someone else).";
    case 409: return "This session is busy: it already has turns waiting. Wait for the reply, then send again.";
    case 413: return `Too long for the gateway: ${err.message}. Shorten the message.`;
    case 429: {
      const wait = err.retryAfter ? `${err.retryAfter} s` : "a few seconds";
      return `Too many requests: wait ${wait} and try again.`;
    }
    case 502: return `The model could not answer this message (${err.message}). Send it again or try later.`;
    case 503: return "The gateway cannot reach Temporal right now. Try again shortly.";
    default: return `The gateway answered ${status || err.code}: ${err.message}`;
  }
}

async function errorOf(response) {
  let code = `HTTP${response.status}`;
  let message = response.statusText || "error";
  try {
    const body = await response.json();
    if (body && body.error) ({ code, message } = body.error);
  } catch {
    // not JSON: keep the status line
  }
  return new ApiError(response.status, code, message, response.headers.get("Retry-After"));
}

async function request(path, { method = "GET", body, accept = "application/json", signal } = {}) {
  const headers = { Accept: accept };
  const token = getToken();
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, {
    method, headers, signal, cache: "no-store",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!response.ok) throw await errorOf(response);
  return response;
}

/** GET a JSON route. */
export async function getJson(path) {
  return (await request(path)).json();
}

/** POST to a JSON route (no body: the steering routes take none) and read its answer. */
export async function postJson(path) {
  return (await request(path, { method: "POST" })).json();
}

/** Run an AG-UI turn; yield its events as they arrive (raises ApiError / Dropped / TypeError). */
export async function* runAgent(input, signal) {
  const response = await request("/ag-ui", {
    method: "POST", body: input, accept: "text/event-stream", signal,
  });
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value;
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const chunk = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const data = chunk.split("\n").filter((l) => l.startsWith("data:"))
          .map((l) => l.slice(5).trimStart()).join("\n");
        if (data) yield JSON.parse(data);
      }
    }
  } finally {
    reader.releaseLock();
  }
}
