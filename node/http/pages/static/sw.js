// The node's service worker (node/http/pages/installable.py): the shell and an offline page, and the
// provider's day of visits (the one page kept, so that a provider can clock without network; deleted
// at logout).
"use strict";
const SHELL = "asasap-shell-v2";
const DAY = "asasap-day-v1";
const DAY_PAGE = "/me/visits";
const FILES = ["/offline", "/static/site.css", "/static/confirm.js", "/static/install.js",
  "/static/icon.svg", "/static/icon-192.png", "/static/clock.js", "/static/telemanagement.css"];

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(SHELL).then((cache) => cache.addAll(FILES)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys()
      .then((names) => Promise.all(names.filter((name) => name !== SHELL && name !== DAY).map((name) => caches.delete(name))))
      .then(() => self.clients.claim())
  );
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (url.pathname === "/logout") {
    caches.delete(DAY);
    return;
  }
  if (request.method !== "GET") return;
  if (request.mode === "navigate" && url.pathname === DAY_PAGE) {
    // Network first; the last day page shown answers when there is no network.
    event.respondWith(
      fetch(request)
        .then((response) => {
          if (response.ok && !response.redirected) {
            const copy = response.clone();
            caches.open(DAY).then((cache) => cache.put(DAY_PAGE, copy));
          }
          return response;
        })
        .catch(() => caches.match(DAY_PAGE).then((kept) => kept || caches.match("/offline")))
    );
    return;
  }
  if (request.mode === "navigate") {
    event.respondWith(fetch(request).catch(() => caches.match("/offline")));
    return;
  }
  if (FILES.includes(url.pathname)) {
    event.respondWith(fetch(request).catch(() => caches.match(request)));
  }
});

// Web Push (node/emails/push.py): the payload says what happened and where, never a message's text.
self.addEventListener("push", (event) => {
  let data = {};
  try { data = event.data ? event.data.json() : {}; } catch (error) { data = {}; }
  event.waitUntil(self.registration.showNotification(data.title || "ASASAP", {
    body: data.body || "", icon: "/static/icon-192.png", data: { url: data.url || "/notifications" },
  }));
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const target = new URL((event.notification.data && event.notification.data.url) || "/", self.location.origin);
  if (target.origin !== self.location.origin) return;
  event.waitUntil(self.clients.openWindow(target.href));
});
