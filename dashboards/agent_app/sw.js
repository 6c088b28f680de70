// The service worker of AKIG Agent: it keeps the app shell (the files of /agent) so that the app opens
// with no network, and nothing else. The day's data and the entries are kept by the app itself
// (IndexedDB); API answers and map tiles are never cached here.
//
// Cache-first on a cache named after the shell's version. The server puts in VERSION a hash of every
// file of the app (dashboards/server/agent_app.py): any change of the app changes this file, so the
// browser installs the new worker, which fetches the new shell and deletes the old cache.

const VERSION = "{{shell_version}}";
const CACHE = `akig-agent-shell-${VERSION}`;
const SHELL = [
  "/agent",
  "/agent/app.js",
  "/agent/api.js",
  "/agent/duty.js",
  "/agent/format.js",
  "/agent/map.js",
  "/agent/store.js",
  "/agent/sync.js",
  "/agent/styles.css",
  "/agent/manifest.webmanifest",
  "/agent/icon-192.png",
  "/agent/icon-512.png",
];

self.addEventListener("install", (event) => {
  // The files are revalidated with their ETag (the server says no-cache): what the page has just
  // downloaded costs a 304 here, not a second download.
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil((async () => {
    for (const name of await caches.keys()) {
      if (name.startsWith("akig-agent-shell-") && name !== CACHE) await caches.delete(name);
    }
    await self.clients.claim();
  })());
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;   // tiles: the browser's own cache
  let path = url.pathname;
  if (request.mode === "navigate" && (path === "/agent" || path === "/agent/")) path = "/agent";
  if (!SHELL.includes(path)) return;                  // /api/…: always the network
  event.respondWith((async () => {
    const cache = await caches.open(CACHE);
    const cached = await cache.match(path);
    if (cached) return cached;
    const response = await fetch(request);
    if (response.ok) await cache.put(path, response.clone());
    return response;
  })());
});
