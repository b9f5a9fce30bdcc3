// Point Mall's service worker: small and hand-written. Stores often have no signal, so the
// member card and every order ready for pickup must open offline (issue 17). Pages are
// always fetched from the network first; the kept copies are only for when it fails.
"use strict";
const VERSION = {{ version|tojson }};
const STATIC = "static-" + VERSION, PAGES = "pages";
const OFFLINE = {{ url_for('storefront.offline')|tojson }};
const KEEP = {{ url_for('storefront.offline_keep')|tojson }};
const LOGOUT = {{ url_for('accounts.logout')|tojson }};
const ASSETS = {{ assets|tojson }};
const BACKGROUND = {"X-Mall-Background": "1"};

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(STATIC).then((cache) => cache.addAll(ASSETS.concat([OFFLINE])))
    .then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(caches.keys().then((keys) => Promise.all(keys
    .filter((key) => key.startsWith("static-") && key !== STATIC).map((key) => caches.delete(key))))
    .then(() => self.clients.claim()));
});

// Refresh the kept pages (the card, each ready order) at most every 30 s while online, and
// forget orders that are no longer waiting.
let lastKept = 0;
async function keepPages() {
  if (Date.now() - lastKept < 30000) { return; }
  lastKept = Date.now();
  // Marked as background work: the server then never touches the session cookie in its
  // answer, which could otherwise overwrite a newer one (mall/web.py BackgroundQuietSessions).
  const answer = await fetch(KEEP, {credentials: "same-origin", redirect: "manual", cache: "no-store", headers: BACKGROUND});
  if (!answer.ok) { return; }  // not a member's session
  const urls = (await answer.json()).keep;
  const cache = await caches.open(PAGES);
  for (const request of await cache.keys()) {
    if (!urls.includes(new URL(request.url).pathname)) { await cache.delete(request); }
  }
  await Promise.all(urls.map((url) => fetch(url, {credentials: "same-origin", cache: "no-store", headers: BACKGROUND})
    .then((page) => (page.ok && !page.redirected ? cache.put(url, page) : null)).catch(() => null)));
}

self.addEventListener("message", (event) => {
  if (event.data === "keep") { lastKept = 0; event.waitUntil(keepPages().catch(() => null)); }
});

function fromCache(url) {
  return caches.match(url.pathname, {cacheName: PAGES})
    .then((page) => page || caches.match(OFFLINE));
}

self.addEventListener("fetch", (event) => {
  const request = event.request, url = new URL(request.url);
  if (url.origin !== self.location.origin) { return; }
  if (request.method === "POST" && url.pathname === LOGOUT) {  // the next person must not see them
    event.waitUntil(caches.delete(PAGES));
    return;
  }
  if (request.method !== "GET") { return; }
  if (ASSETS.includes(url.pathname)) {  // versioned names: a kept copy is always right
    event.respondWith(caches.match(request).then((hit) => hit || fetch(request)));
    return;
  }
  // Pages: full loads, and htmx's boosted links (which swap in a whole page too).
  if (request.mode === "navigate" || request.headers.get("HX-Boosted") === "true") {
    event.respondWith(fetch(request).then((page) => {
      event.waitUntil(keepPages().catch(() => null));
      return page;
    }).catch(() => fromCache(url)));
  }
});
