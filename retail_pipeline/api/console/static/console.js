// The ops console's shared script: CSRF-carrying fetch, live events, toasts.
(function () {
  "use strict";
  const csrf = () => document.querySelector('meta[name="csrf-token"]')?.content || "";

  // fetch for the JSON routes: sends the session's CSRF token, JSON in and out. Resolves to
  // {ok, status, body}; never throws for an HTTP error, so callers show the server's message.
  window.consoleFetch = async function (url, options = {}) {
    const headers = Object.assign({ "X-CSRF-Token": csrf(), Accept: "application/json" }, options.headers || {});
    let body = options.body;
    if (body !== undefined && typeof body !== "string" && !(body instanceof FormData)) {
      headers["Content-Type"] = "application/json";
      body = JSON.stringify(body);
    }
    const response = await fetch(url, Object.assign({}, options, { headers, body, credentials: "same-origin" }));
    let payload = null;
    const type = response.headers.get("content-type") || "";
    payload = type.includes("json") ? await response.json() : await response.text();
    return { ok: response.ok, status: response.status, body: payload };
  };

  window.toast = function (text) {
    const box = document.getElementById("toasts");
    if (!box) return;
    const item = document.createElement("div");
    item.className = "toast";
    item.textContent = text; // text, never markup: it may carry supplier or buyer words
    box.appendChild(item);
    setTimeout(() => item.remove(), 6000);
  };

  // Live events: /console/events is a server-sent-events stream; each event is re-dispatched on document
  // as "console:<type>" (task, order, message, shipment) with its JSON as detail.
  function listen() {
    if (!window.EventSource || document.body.dataset.role === "anonymous") return;
    const source = new EventSource("/console/events");
    window.consoleEvents = source;
    // "ready": the server's LISTEN is in place; body[data-live] lets pages (and tests) know.
    source.addEventListener("ready", () => { document.body.dataset.live = "ready"; });
    // The key was revoked or the session ended: stop listening; the reload shows the sign-in form.
    source.addEventListener("signed_out", () => { source.close(); window.location.reload(); });
    source.onerror = () => { document.body.dataset.live = "reconnecting"; };
    for (const type of ["task", "order", "message", "shipment"]) {
      source.addEventListener(type, (event) => {
        let detail = {};
        try { detail = JSON.parse(event.data); } catch (_) { /* keep {} */ }
        document.dispatchEvent(new CustomEvent("console:" + type, { detail }));
      });
    }
  }

  // Every page: a toast for each new task, order or message, and the Inbox link counts new tasks.
  let unseenTasks = 0;
  for (const type of ["task", "order", "message"]) {
    document.addEventListener("console:" + type, (event) => {
      const detail = event.detail || {};
      if (detail.action !== "created") return;
      window.toast(detail.title || ("New " + type));
      if (type === "task" && !location.pathname.startsWith("/console/inbox")) {
        const badge = document.getElementById("live-count");
        if (badge) { unseenTasks += detail.count || 1; badge.textContent = unseenTasks; badge.hidden = false; }
      }
    });
  }
  document.addEventListener("DOMContentLoaded", listen);
})();
