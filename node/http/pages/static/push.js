// Web Push on this device (the "E-mail notifications" settings page): subscribe the service worker with
// the node's VAPID key and hand the subscription to the node; or undo it. Pages work without it.
"use strict";
(function () {
  const box = document.getElementById("push");
  if (!box || !("serviceWorker" in navigator) || !("PushManager" in window) || !("Notification" in window)) return;
  const token = box.dataset.csrf;
  const status = box.querySelector("[data-push-status]");
  const on = box.querySelector("[data-push-on]");
  const off = box.querySelector("[data-push-off]");
  box.hidden = false;

  function key(text) {
    const padded = (text + "===".slice((text.length + 3) % 4)).replace(/-/g, "+").replace(/_/g, "/");
    return Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
  }
  function post(path, body) {
    return fetch(path, { method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": token }, body: JSON.stringify(body) });
  }
  function show(subscribed) {
    on.hidden = subscribed;
    off.hidden = !subscribed;
    status.textContent = subscribed ? box.dataset.on : box.dataset.off;
  }
  navigator.serviceWorker.register("/sw.js", { scope: "/" }).then((registration) =>
    registration.pushManager.getSubscription().then((existing) => {
      show(Boolean(existing));
      on.addEventListener("click", () => {
        Notification.requestPermission().then((permission) => {
          if (permission !== "granted") { status.textContent = box.dataset.denied; return; }
          fetch("/push/key").then((r) => r.json()).then((answer) =>
            registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key(answer.publicKey) })
          ).then((subscription) => post("/push/subscriptions", subscription.toJSON()))
            .then((response) => show(response.ok))
            .catch(() => { status.textContent = box.dataset.failed; });
        });
      });
      off.addEventListener("click", () => {
        registration.pushManager.getSubscription().then((subscription) => {
          if (!subscription) { show(false); return; }
          post("/push/subscriptions/delete", { endpoint: subscription.endpoint })
            .then(() => subscription.unsubscribe()).then(() => show(false));
        });
      });
    })
  ).catch(() => { box.hidden = true; });
})();
