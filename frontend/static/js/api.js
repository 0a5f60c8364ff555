// The one way a page talks to the server. Every JSON call, text fetch and download goes through `send`, which
// carries the page's credential: signed-in pages are credentialed by their session cookie (same origin), and a
// share link's pages (/share/<token>/...) send the link's token as a bearer token on every request. Downloads
// are fetched and saved from a Blob, so the token never appears in a URL that a server logs or a Referer carries.

const SHARE_PREFIX = "/share/";

/** The share link's token when the page was opened through one, else null. */
export const shareToken = window.location.pathname.startsWith(SHARE_PREFIX)
  ? window.location.pathname.split("/")[2]
  : null;

/** A refusal or failure as the server explained it: `status`, a readable `message`, and the request
 * validation `problems` (FastAPI's [{loc, msg}] list) when there are any. */
export class ApiError extends Error {
  constructor(status, detail, path) {
    const problems = Array.isArray(detail) ? detail : [];
    const text = problems.length
      ? problems.map((problem) => `${(problem.loc || []).slice(1).join(".")}: ${problem.msg}`).join("; ")
      : String(detail || "no explanation given");
    super(`${status}: ${text}`);
    this.status = status;
    this.path = path;
    this.problems = problems;
  }
}

async function send(path, { method = "GET", json, headers = {}, body } = {}) {
  const sent = { ...headers };
  if (shareToken) sent.authorization = `Bearer ${shareToken}`;
  if (json !== undefined) {
    sent["content-type"] = "application/json";
    body = JSON.stringify(json);
  }
  // no-store: what a dashboard shows must be what the server says now (the server decides anew on each
  // request who may see it); conditional requests set their If-None-Match themselves.
  const response = await fetch(path, { method, headers: sent, body, cache: "no-store" });
  if (response.status === 401 && !shareToken && document.body.dataset.page !== "login") {
    // The session ended (signed out elsewhere, expired): sign in again and come back here.
    const here = window.location.pathname + window.location.search;
    window.location.assign(`/login?${new URLSearchParams({ next: here })}`);
  }
  if (!response.ok && response.status !== 304) {
    const payload = await response.json().catch(() => ({}));
    throw new ApiError(response.status, payload.detail || response.statusText, path);
  }
  return response;
}

/** A JSON request; the parsed answer, or null for 204. `json` is sent as the body. */
export async function api(path, options = {}) {
  const response = await send(path, options);
  return response.status === 204 ? null : response.json();
}

/** A request whose body is text in another format (YAML), sent with its content type. */
export function apiWithBody(path, text, contentType) {
  return api(path, { method: "POST", body: text, headers: { "content-type": contentType } });
}

/** Plain text from the API (the Markdown report). */
export async function apiText(path) {
  return (await send(path)).text();
}

/** `{changed: false}` when what `path` answers still carries `etag`, else `{changed: true, etag, body}`. */
export async function apiIfChanged(path, etag) {
  const response = await send(path, { headers: etag ? { "if-none-match": etag } : {} });
  if (response.status === 304) return { changed: false };
  return { changed: true, etag: response.headers.get("etag"), body: await response.json() };
}

function attachmentName(response, fallback) {
  const disposition = response.headers.get("content-disposition") || "";
  const match = disposition.match(/filename="([^"]+)"/);
  return match ? match[1] : fallback;
}

/** Fetch a download with the page's credential and hand it to the browser as a file. */
export async function download(path, fallbackName) {
  const response = await send(path);
  const url = URL.createObjectURL(await response.blob());
  const link = document.createElement("a");
  link.href = url;
  link.download = attachmentName(response, fallbackName);
  document.body.append(link);
  link.click();
  link.remove();
  // The browser has taken the file once the click is handled; the object URL can go soon after.
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
