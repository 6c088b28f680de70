// Sending what the agent recorded: the outbox, in the order the entries were made, and the GPS fixes.
//
// Rules (one per kind of answer, see api.js):
// * accepted (2xx, including a duplicate of a retried client_id): the entry is "envoyé", with its
//   receipt number for a payment;
// * refused (4xx): the entry is "refusé" with the server's message, stays on screen until the agent
//   removes it, and the entries after it are still sent (one bad amount must not hold the day's work);
// * network failure, timeout, 429 or 5xx: the entry keeps waiting, and so do those after it (order);
// * 401: the token was revoked; the caller wipes the phone's data and shows the login.

import { call, Offline } from "./api.js";
import { fixes, outbox } from "./store.js";

export const BATCH = 500;   // fixes per POST (the server takes up to 1000)

let running = null;

// One flush at a time: the `online` event, the timer and a new entry may all ask at once, and two
// flushes would send the same entry twice (harmless thanks to client_id, but data is costly).
export function flushOutbox(token, onChange) {
  if (!running) running = sendPending(token, onChange).finally(() => { running = null; });
  return running;
}

async function sendPending(token, onChange) {
  const tried = new Set();
  for (;;) {
    const entry = (await outbox.all()).find((e) => e.state === "pending" && !tried.has(e.seq));
    if (!entry) return { done: true };
    tried.add(entry.seq);
    let answer;
    try {
      answer = await call(entry.path, { method: "POST", body: entry.body, token });
    } catch (error) {
      if (error instanceof Offline) return { waiting: true };
      throw error;
    }
    if (answer.revoked) return { revoked: true };
    if (answer.retryable) return { waiting: true, retryAfter: answer.retryAfter };
    if (answer.ok) {
      entry.state = "sent";
      entry.ref = answer.data && answer.data.ref;
      entry.receipt_no = answer.data && answer.data.receipt_no;
      entry.sent_at = new Date().toISOString();
      entry.message = null;
    } else {
      entry.state = "refused";
      entry.message = answer.message;
    }
    await outbox.put(entry);
    onChange(entry);
  }
}

let sendingFixes = null;

// The oldest fixes first, in batches. A refused batch (a fix older than the server keeps, outside the
// country…) is dropped and its message returned for the screen: a refused fix will never be accepted,
// and keeping it would block every fix after it.
export function flushFixes(token, agentRef) {
  if (!sendingFixes) sendingFixes = sendFixes(token, agentRef).finally(() => { sendingFixes = null; });
  return sendingFixes;
}

async function sendFixes(token, agentRef) {
  let refused = null;
  for (;;) {
    const batch = await fixes.oldest(BATCH);
    if (batch.length === 0) return { done: true, refused };
    const body = { agent_ref: agentRef, fixes: batch.map(({ seq, ...fix }) => fix) };
    let answer;
    try {
      answer = await call("/api/positions", { method: "POST", body, token });
    } catch (error) {
      if (error instanceof Offline) return { waiting: true, refused };
      throw error;
    }
    if (answer.revoked) return { revoked: true };
    if (answer.retryable) return { waiting: true, refused };
    if (!answer.ok) refused = answer.message;
    await fixes.removeUpTo(batch[batch.length - 1].seq);
  }
}
