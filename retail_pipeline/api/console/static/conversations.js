// Customer service page: reply (idempotent, held on a collision), statuses, read state, saved replies,
// keyboard shortcuts and live messages. Every action is a call to the JSON routes under /api.
(function () {
  "use strict";
  const root = document.getElementById("cs");
  if (!root) return;
  const conversationId = root.dataset.conversationId;
  const canAct = root.dataset.canAct === "true";
  const $ = (id) => document.getElementById(id);
  const threadLinks = () => Array.from(document.querySelectorAll("#threads .cs-thread a"));

  // --- messages on screen (built as text: buyers' words never become markup)

  function renderedMax() {
    const ids = Array.from(document.querySelectorAll("#messages [data-message-id]")).map((li) => Number(li.dataset.messageId));
    return ids.length ? Math.max(...ids) : 0;
  }

  function ago(iso) {
    const seconds = Math.max(0, (Date.now() - new Date(iso).getTime()) / 1000);
    for (const [unit, size] of [["d", 86400], ["h", 3600], ["m", 60]]) {
      if (seconds >= size) return Math.floor(seconds / size) + unit + " ago";
    }
    return "just now";
  }

  function messageItem(m, isNew) {
    const li = document.createElement("li");
    li.className = "cs-msg cs-" + m.direction + (m.auto_reply_key ? " cs-auto" : "") + (isNew ? " is-new fresh" : "");
    li.dataset.messageId = m.id;
    const bubble = document.createElement("div");
    bubble.className = "cs-bubble";
    bubble.textContent = m.body;
    const by = document.createElement("div");
    by.className = "cs-by muted";
    const who = m.direction === "inbound" ? (m.author_name || "Buyer") : (m.auto_reply_key ? "Auto-reply" : (m.author_name || "Shop"));
    by.textContent = who + " · " + ago(m.at) + (m.status === "pending" ? " · sending" : "") + (m.status === "failed" ? " · not sent" : "");
    li.append(bubble, by);
    return li;
  }

  function showMessages(messages, isNew) {
    const list = $("messages");
    const known = new Set(Array.from(list.querySelectorAll("[data-message-id]")).map((li) => li.dataset.messageId));
    for (const m of messages) {
      if (!known.has(String(m.id))) list.appendChild(messageItem(m, isNew));
    }
    list.scrollTop = list.scrollHeight;
  }

  // --- reply

  const form = $("reply");
  const body = $("reply-body");
  const state = (text, cls) => { const s = $("reply-state"); if (s) { s.textContent = text; s.className = cls || "muted"; } };
  let sending = false;

  function newKey() {
    $("idempotency-key").value = (window.crypto && crypto.randomUUID) ? crypto.randomUUID()
      : Date.now().toString(36) + Math.random().toString(36).slice(2);
  }

  async function sendReply(force) {
    if (sending || !body.value.trim()) return;
    sending = true;
    $("send").disabled = true;
    state("Sending…");
    try {
      const r = await consoleFetch("/api/conversations/" + conversationId + "/reply", {
        method: "POST",
        body: { body: body.value, idempotency_key: $("idempotency-key").value,
                last_seen_message_id: Number($("last-seen").value), force: !!force },
      });
      if (r.status === 200) {
        showMessages([r.body.message], false);
        $("last-seen").value = Math.max(Number($("last-seen").value), r.body.message.id);
        body.value = "";
        hideCollision();
        newKey();
        state("Sent", "ok");
        toast("Reply sent");
      } else if (r.status === 409) {
        showCollision(r.body.detail);
      } else if (r.status === 202) {
        showMessages([r.body.message], false);
        body.value = "";
        newKey();
        state("Kept: the channel did not answer; it will be sent on the next pass", "error");
      } else {
        const detail = r.body && r.body.detail;
        state((detail && (detail.message || detail)) || ("Error " + r.status), "error");
        if (r.status === 502) newKey(); // that attempt is recorded as failed: an edited reply is a new one
      }
    } catch (error) {
      // The request may have reached the server: the same key retried posts at most once.
      state("Network error: press Send again (it will not be posted twice)", "error");
    } finally {
      sending = false;
      $("send").disabled = false;
    }
  }

  function showCollision(detail) {
    const news = detail.new_messages || [];
    $("collision-text").textContent = detail.message || "New messages arrived";
    const list = $("collision-messages");
    list.replaceChildren();
    for (const m of news) {
      const li = document.createElement("li");
      li.textContent = (m.direction === "inbound" ? (m.author_name || "Buyer") : (m.author_name || "Shop")) + ": " + m.body;
      list.appendChild(li);
    }
    showMessages(news, true);
    // Seen now: the warning showed them. Sending anyway answers with them in view.
    $("last-seen").value = Math.max(Number($("last-seen").value), ...news.map((m) => m.id));
    $("collision").hidden = false;
    state("Held: read the new messages above", "error");
  }

  function hideCollision() {
    if ($("collision")) $("collision").hidden = true;
  }

  if (form) {
    form.addEventListener("submit", (event) => { event.preventDefault(); sendReply(false); });
    $("send-anyway").addEventListener("click", () => sendReply(true));
    $("edit-reply").addEventListener("click", () => { hideCollision(); state(""); body.focus(); });
    body.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) { event.preventDefault(); sendReply(false); }
      if (event.key === "Escape") body.blur();
    });
    $("saved-reply").addEventListener("change", (event) => {
      const option = event.target.selectedOptions[0];
      if (option && option.dataset.body) {
        body.value = body.value.trim() ? body.value.trimEnd() + "\n\n" + option.dataset.body : option.dataset.body;
        body.focus();
      }
      event.target.value = "";
    });
  }

  // A reply left 'sending' (the sidecar stopped mid-way): the same key again, so the server looks in the
  // channel's thread before posting.
  document.querySelectorAll("[data-retry-key]").forEach((button) =>
    button.addEventListener("click", async () => {
      button.disabled = true;
      const item = button.closest("[data-message-id]");
      const r = await consoleFetch("/api/conversations/" + conversationId + "/reply", {
        method: "POST",
        body: { body: item.querySelector(".cs-bubble").textContent, idempotency_key: button.dataset.retryKey,
                last_seen_message_id: Number($("last-seen").value) },
      });
      toast(r.status === 200 ? "Reply " + r.body.outcome.replace("_", " ") : "Still not sent: " + (r.body.error || r.status));
      location.reload();
    }));

  // --- status

  async function setStatus(status, until) {
    const r = await consoleFetch("/api/conversations/" + conversationId + "/status", {
      method: "POST", body: until ? { status, until } : { status },
    });
    if (!r.ok) { toast((r.body.detail && (r.body.detail.message || r.body.detail)) || "Could not change the status"); return; }
    toast("Thread " + status);
    if (status === "resolved" || status === "snoozed") { go(1, true); } else { location.reload(); }
  }

  document.querySelectorAll("[data-status]").forEach((button) =>
    button.addEventListener("click", () => setStatus(button.dataset.status)));
  const snooze = $("snooze");
  if (snooze) {
    snooze.addEventListener("change", () => {
      const choice = snooze.value;
      if (!choice) return;
      const until = new Date();
      if (choice === "tomorrow" || choice === "week") {
        until.setDate(until.getDate() + (choice === "week" ? 7 : 1));
        until.setHours(9, 0, 0, 0);
      } else {
        until.setTime(until.getTime() + Number(choice) * 3600 * 1000);
      }
      setStatus("snoozed", until.toISOString());
    });
  }

  // --- next / previous

  function go(step, leaving) {
    const links = threadLinks();
    if (!links.length) { if (leaving) location.href = "/console/conversations?" + root.dataset.listQs; return; }
    const current = links.findIndex((a) => a.parentElement.classList.contains("current"));
    let index = current === -1 ? (step > 0 ? 0 : links.length - 1) : current + step;
    if (leaving && current !== -1 && index >= links.length) index = current - 1; // resolved the last: go up
    if (index < 0 || index >= links.length || index === current) {
      if (leaving) location.href = "/console/conversations?" + root.dataset.listQs;
      return;
    }
    location.href = links[index].href;
  }

  document.addEventListener("keydown", (event) => {
    const typing = event.target.closest("input, textarea, select, [contenteditable]");
    if (typing || event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.key === "j") { event.preventDefault(); go(1); }
    else if (event.key === "k") { event.preventDefault(); go(-1); }
    else if (event.key === "r" && body) { event.preventDefault(); body.focus(); }
    else if (event.key === "e" && canAct && conversationId) { event.preventDefault(); setStatus("resolved"); }
  });

  // --- read state: an operator opening a thread has read it

  if (canAct && conversationId && Number(root.dataset.unread) > 0) {
    consoleFetch("/api/conversations/" + conversationId + "/read", { method: "POST", body: {} });
  }

  // --- live messages (console:message from the console's event stream)

  document.addEventListener("console:message", async (event) => {
    const detail = event.detail || {};
    if (conversationId && String(detail.conversation_id) === conversationId) {
      const r = await consoleFetch("/api/conversations/" + conversationId);
      if (!r.ok) return;
      const fresh = r.body.messages.filter((m) => m.id > renderedMax());
      if (!fresh.length) return;
      showMessages(fresh, true);
      const inbound = fresh.filter((m) => m.direction === "inbound");
      const banner = $("thread-live");
      banner.textContent = inbound.length
        ? "New message from " + (inbound[0].author_name || "the buyer") + ": read it before you reply."
        : "A reply was just sent in this thread.";
      banner.hidden = false;
      return;
    }
    const row = detail.conversation_id && document.querySelector('#threads [data-id="' + Number(detail.conversation_id) + '"]');
    if (row && detail.direction === "inbound") {
      row.classList.add("is-unread", "fresh");
    }
    const live = $("list-live");
    if (live) live.hidden = false;
  });
})();
