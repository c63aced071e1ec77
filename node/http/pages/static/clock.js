// Clocking that survives a lost network (node/http/pages/telemanagement/provider.py).
// Each check-in or check-out is first kept on the phone (localStorage) with the phone's time and an id
// of its own, then sent; what cannot be sent now is sent again when the network returns. The node
// records an event once per id, so sending twice is harmless. With the position check on, the phone's
// position is asked once, at the moment of clocking, and sent with the event only.
"use strict";
(function () {
  const KEY = "asasap-clock-queue";
  const forms = document.querySelectorAll("form.tm-clock");
  const status = document.getElementById("tm-sync");

  function queue() {
    try { return JSON.parse(localStorage.getItem(KEY) || "[]"); } catch (e) { return []; }
  }
  function save(items) { localStorage.setItem(KEY, JSON.stringify(items)); }
  function text(name) { return (status && status.dataset[name]) || name; }
  function say(message) { if (status) { status.textContent = message; status.hidden = false; } }
  function newId() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    return Date.now().toString(36) + "-" + Math.random().toString(36).slice(2, 12);
  }

  function position(form) {
    if (form.dataset.position !== "1" || !navigator.geolocation) return Promise.resolve(null);
    return new Promise(function (resolve) {
      navigator.geolocation.getCurrentPosition(
        function (p) { resolve([p.coords.latitude, p.coords.longitude]); },
        function () { resolve(null); },
        { timeout: 8000, maximumAge: 0 }
      );
    });
  }

  // Send what waits, oldest first; stop at the first network failure.
  let sending = false;
  async function flush() {
    if (sending) return;
    sending = true;
    let sent = 0;
    try {
      for (const item of queue()) {
        const body = new URLSearchParams(item.fields);
        body.set("offline", "1");
        let response;
        try {
          response = await fetch(item.action, { method: "POST", body: body, redirect: "manual", credentials: "same-origin" });
        } catch (e) {
          break; // still no network
        }
        if (response.status >= 500) break;
        save(queue().filter(function (other) { return other.fields.client_id !== item.fields.client_id; }));
        if (response.type === "opaqueredirect" || response.ok) {
          sent += 1;
        } else {
          say(text("refused"));
        }
      }
    } finally {
      sending = false;
    }
    if (sent > 0) window.location.replace("/me/visits?done=sent");
  }

  function keep(form, fields) {
    fields.at = new Date().toISOString();
    const items = queue();
    items.push({ action: form.action, fields: fields, offline: true });
    save(items);
    const button = form.querySelector("button[type=submit]");
    if (button) button.disabled = true;
    const state = document.querySelector('[data-testid="state-' + form.dataset.visit + '"]');
    if (state) state.textContent = text("pending");
    say(text("kept"));
  }

  forms.forEach(function (form) {
    form.addEventListener("submit", async function (event) {
      if (form.dataset.native === "1") return; // a refusal to show: the node's own page says why
      event.preventDefault();
      const fields = Object.fromEntries(new FormData(form).entries());
      fields.client_id = newId();
      const where = await position(form);
      if (where) { fields.latitude = String(where[0]); fields.longitude = String(where[1]); }
      if (!navigator.onLine) { keep(form, fields); return; }
      let response;
      try {
        response = await fetch(form.action, { method: "POST", body: new URLSearchParams(fields), credentials: "same-origin" });
      } catch (e) {
        keep(form, fields);
        return;
      }
      if (response.ok && response.redirected) { window.location.replace(response.url); return; }
      // Refused: send the same event the ordinary way, so that the page shows the node's message.
      Object.entries(fields).forEach(function ([name, value]) {
        let input = form.querySelector('input[type=hidden][name="' + name + '"]');
        if (!input) { input = document.createElement("input"); input.type = "hidden"; input.name = name; form.appendChild(input); }
        input.value = value;
      });
      form.dataset.native = "1";
      form.requestSubmit();
    });
  });

  window.addEventListener("online", flush);
  if (navigator.onLine && queue().length) flush();
  // Phones do not always say when the network is back, and the first try may come too early: try again
  // every few seconds while something waits.
  setInterval(function () { if (navigator.onLine && queue().length) flush(); }, 5000);
})();
