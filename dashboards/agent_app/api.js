// Talking to the AKIG server's JSON API. Every answer is classified once, here, because the outbox's
// rules depend on it: a network failure or a 5xx means "try again later", a 401 means the device's
// token was revoked, any other 4xx is a refusal to show to the agent (with the server's French message).

const TIMEOUT_MS = 30000;   // a slow 3G answer is fine; a request hanging for minutes is not

// How far the phone's clock is from the server's, learnt from the Date header of the answers: times
// the app sends (a visit's moment) are corrected by it, so a phone a few minutes ahead does not get its
// entries refused as "in the future".
let clockOffsetMs = 0;

export function serverNow() {
  return new Date(Date.now() + clockOffsetMs);
}

export class Answer {
  constructor(status, data, retryAfter) {
    this.status = status;
    this.data = data;
    this.retryAfter = retryAfter;
  }
  get ok() { return this.status >= 200 && this.status < 300; }
  get revoked() { return this.status === 401; }
  // Worth sending again later: the server was busy, overloaded or failing, not refusing this entry.
  get retryable() { return this.status >= 500 || this.status === 429 || this.status === 408; }
  get refused() { return !this.ok && !this.revoked && !this.retryable; }
  get message() {
    return (this.data && typeof this.data.error === "string" && this.data.error)
      || `Réponse inattendue du serveur (${this.status}).`;
  }
}

export class Offline extends Error {}

export async function call(path, { method = "GET", body = undefined, token = null } = {}) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (token) headers.Authorization = `Bearer ${token}`;
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), TIMEOUT_MS);
  let response;
  try {
    response = await fetch(path, {
      method, headers, body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store", credentials: "omit", signal: controller.signal,
    });
  } catch (error) {
    throw new Offline(error && error.name === "AbortError" ? "délai dépassé" : "réseau indisponible");
  } finally {
    clearTimeout(timer);
  }
  learnClock(response.headers.get("Date"));
  let data = null;
  try {
    data = await response.json();
  } catch {
    data = null;   // a proxy's HTML error page: the status says enough
  }
  const retryAfter = Number(response.headers.get("Retry-After")) || null;
  return new Answer(response.status, data, retryAfter);
}

function learnClock(header) {
  const server = header ? Date.parse(header) : NaN;
  if (Number.isNaN(server)) return;
  const offset = server - Date.now();
  // The header is to the second and the answer took time to come: small gaps are noise.
  clockOffsetMs = Math.abs(offset) > 30000 ? offset : 0;
}
