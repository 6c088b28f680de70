// The phone's own storage (IndexedDB): the session, the day's payload, the entries waiting to be sent
// (the outbox) and the GPS fixes not yet posted. IndexedDB rather than localStorage: it survives a
// reload offline, holds structured records, and the outbox needs an ordered key (autoIncrement) so that
// entries are sent in the order they were made.

const DB_NAME = "akig-agent";
const DB_VERSION = 1;

let opening = null;
// After a wipe nothing may be written again until the next login: work still under way when the token
// was revoked (a send, a GPS fix) would otherwise create the database again with its leftovers.
let wiped = false;

export function reopen() {
  wiped = false;
}

// No write until the next login, without deleting what is stored (the entries kept for their agent).
export function markWiped() {
  wiped = true;
}

function promised(request) {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

function open() {
  if (!opening) {
    opening = new Promise((resolve, reject) => {
      const request = indexedDB.open(DB_NAME, DB_VERSION);
      request.onupgradeneeded = () => {
        const db = request.result;
        db.createObjectStore("kv");
        db.createObjectStore("outbox", { keyPath: "seq", autoIncrement: true });
        db.createObjectStore("fixes", { keyPath: "seq", autoIncrement: true });
      };
      request.onsuccess = () => {
        const db = request.result;
        // Another tab deleting the database (logout) must not wait for this one to close.
        db.onversionchange = () => { db.close(); opening = null; };
        resolve(db);
      };
      request.onerror = () => { opening = null; reject(request.error); };
    });
  }
  return opening;
}

async function run(storeName, mode, action) {
  if (wiped) return undefined;
  const db = await open();
  const tx = db.transaction(storeName, mode);
  const result = await promised(action(tx.objectStore(storeName)));
  await new Promise((resolve, reject) => {
    tx.oncomplete = resolve;
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error);
  });
  return result;
}

export const kv = {
  get: (key) => run("kv", "readonly", (s) => s.get(key)),
  set: (key, value) => run("kv", "readwrite", (s) => s.put(value, key)),
  remove: (key) => run("kv", "readwrite", (s) => s.delete(key)),
};

export const outbox = {
  add: (entry) => run("outbox", "readwrite", (s) => s.add(entry)),
  put: (entry) => run("outbox", "readwrite", (s) => s.put(entry)),
  remove: (seq) => run("outbox", "readwrite", (s) => s.delete(seq)),
  all: async () => (await run("outbox", "readonly", (s) => s.getAll())) || [],   // in key order: as made
};

export const fixes = {
  add: (fix) => run("fixes", "readwrite", (s) => s.add(fix)),
  // The oldest `limit` fixes, with their keys (to delete exactly those once posted).
  oldest: async (limit) => {
    if (wiped) return [];
    const db = await open();
    const tx = db.transaction("fixes", "readonly");
    const rows = [];
    await new Promise((resolve, reject) => {
      const cursor = tx.objectStore("fixes").openCursor();
      cursor.onsuccess = () => {
        const c = cursor.result;
        if (!c || rows.length >= limit) { resolve(); return; }
        rows.push(c.value);
        c.continue();
      };
      cursor.onerror = () => reject(cursor.error);
    });
    return rows;
  },
  count: async () => (await run("fixes", "readonly", (s) => s.count())) || 0,
  removeUpTo: (seq) => run("fixes", "readwrite", (s) => s.delete(IDBKeyRange.upperBound(seq))),
};

// Everything the app stored about its user goes: logout, or a token the server revoked.
export async function wipe() {
  wiped = true;
  if (opening) {
    const db = await opening.catch(() => null);
    if (db) db.close();
    opening = null;
  }
  await new Promise((resolve) => {
    const request = indexedDB.deleteDatabase(DB_NAME);
    request.onsuccess = request.onerror = request.onblocked = () => resolve();
  });
}
