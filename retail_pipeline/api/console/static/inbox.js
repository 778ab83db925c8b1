// Inbox: task actions with a note, command retry, and new tasks / orders / messages arriving live.
(function () {
  "use strict";
  const canAct = ["operator", "admin"].includes(document.body.dataset.role);

  function bump(el, delta) {
    if (!el) return;
    el.textContent = Math.max(0, (parseInt(el.textContent, 10) || 0) + delta);
  }

  function removeTask(row) {
    // Once: our own click and the live event of the same change may arrive in either order.
    if (row.classList.contains("leaving")) return;
    const group = row.closest(".task-group");
    row.classList.add("leaving");
    setTimeout(() => {
      row.remove();
      bump(group && group.querySelector("[data-group-count]"), -1);
      if (group && !group.querySelector("tr.task")) group.remove();
    }, 400);
    bump(document.getElementById("open-count"), -1);
  }

  async function act(row, action, button) {
    const note = row.querySelector(".note");
    const error = row.querySelector(".error");
    error.textContent = "";
    button.disabled = true;
    const result = await consoleFetch(`/ops/tasks/${row.dataset.taskId}/${action}`, {
      method: "POST", body: { note: note && note.value.trim() ? note.value.trim() : null },
    });
    button.disabled = false;
    if (!result.ok) {
      const detail = result.body && result.body.detail;
      error.textContent = typeof detail === "string" ? detail : (detail && detail.message) || `HTTP ${result.status}`;
      return;
    }
    const status = result.body.task.status;
    row.dataset.status = status;
    row.querySelector(".status-label").textContent = status;
    if (status === "acknowledged") {
      row.querySelector('[data-action="acknowledge"]')?.remove();
    } else {
      removeTask(row);
    }
  }

  // A remote listing we did not make: adopt it to a candidate, make a product of it, or ignore it.
  async function answerAdoption(row, button) {
    const error = row.querySelector(".error");
    error.textContent = "";
    button.disabled = true;
    const answer = button.dataset.adoption;
    const result = await consoleFetch(`/api/adoptions/${row.dataset.taskId}/${answer}`, {
      method: "POST", body: answer === "adopt" ? { product_id: Number(button.dataset.productId) } : undefined,
    });
    button.disabled = false;
    if (!result.ok) {
      const detail = result.body && result.body.detail;
      error.textContent = typeof detail === "string" ? detail : `HTTP ${result.status}`;
      return;
    }
    removeTask(row);
  }

  document.addEventListener("click", async (event) => {
    const button = event.target.closest("button");
    if (!button) return;
    const row = button.closest("tr.task");
    if (row && button.dataset.action) {
      await act(row, button.dataset.action, button);
      return;
    }
    if (row && button.dataset.adoption) {
      await answerAdoption(row, button);
      return;
    }
    if (button.dataset.retry) {
      // From the Commands card or from the command's task row: the same route.
      const item = button.closest("[data-command-id]") || button.closest("tr.task");
      const out = item.querySelector(".result");
      button.disabled = true;
      const result = await consoleFetch(`/ops/commands/${button.dataset.retry}/retry`, { method: "POST" });
      if (result.ok) {
        out.className = "result ok";
        out.textContent = `Queued again as command #${result.body.id}`;
        button.remove();
      } else {
        button.disabled = false;
        out.className = "result error";
        const detail = result.body && result.body.detail;
        out.textContent = typeof detail === "string" ? detail : `HTTP ${result.status}`;
      }
    }
  });

  // A new task: a row at the top of its kind's group (the group is made if it is new).
  function taskRow(task) {
    const row = document.createElement("tr");
    row.className = "task fresh";
    row.dataset.taskId = task.id;
    row.dataset.status = task.status || "open";
    const sev = row.insertCell(); sev.className = "sev";
    const badge = document.createElement("span");
    badge.className = "badge badge-" + (task.severity || "error");
    badge.textContent = task.severity || "error";
    sev.appendChild(badge);
    const what = row.insertCell(); what.className = "what";
    const title = document.createElement("div"); title.className = "title"; title.textContent = task.title || "";
    const meta = document.createElement("div"); meta.className = "muted small";
    meta.append("just now" + (task.channel ? " · " + task.channel : "") + " · ");
    const label = document.createElement("span"); label.className = "status-label"; label.textContent = row.dataset.status;
    meta.appendChild(label);
    what.append(title, meta);
    if (canAct) {
      const actions = row.insertCell(); actions.className = "act";
      const note = document.createElement("input");
      note.type = "text"; note.className = "note"; note.placeholder = "Note"; note.maxLength = 2000;
      note.setAttribute("aria-label", `Note for task ${task.id}`);
      actions.appendChild(note);
      for (const [action, text, cls] of [["acknowledge", "Acknowledge", "btn"], ["resolve", "Resolve", "btn btn-primary"], ["dismiss", "Dismiss", "btn"]]) {
        const b = document.createElement("button");
        b.className = cls; b.dataset.action = action; b.textContent = text;
        actions.append(" ", b);
      }
      const error = document.createElement("div"); error.className = "error small"; error.setAttribute("role", "alert");
      actions.appendChild(error);
    }
    return row;
  }

  function groupFor(kind) {
    let group = document.querySelector(`.task-group[data-kind="${CSS.escape(kind)}"]`);
    if (group) return group;
    group = document.createElement("section");
    group.className = "card task-group";
    group.dataset.kind = kind;
    const head = document.createElement("div"); head.className = "spread";
    const h2 = document.createElement("h2");
    const name = kind.replace(/_/g, " ");
    h2.textContent = name.charAt(0).toUpperCase() + name.slice(1);
    const count = document.createElement("span"); count.className = "badge"; count.dataset.groupCount = ""; count.textContent = "0";
    head.append(h2, count);
    const table = document.createElement("table"); table.className = "table tasks"; table.createTBody();
    group.append(head, table);
    document.getElementById("no-tasks")?.remove();
    document.getElementById("task-groups").prepend(group);
    return group;
  }

  function feed(text, href) {
    const list = document.getElementById("feed");
    document.getElementById("feed-empty")?.remove();
    const item = document.createElement("li");
    item.className = "fresh";
    const when = new Date().toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
    if (href) {
      const link = document.createElement("a"); link.href = href; link.textContent = text; item.appendChild(link);
    } else {
      item.textContent = text;
    }
    const time = document.createElement("span"); time.className = "muted small"; time.textContent = " · " + when;
    item.appendChild(time);
    list.prepend(item);
    while (list.children.length > 20) list.lastChild.remove();
  }

  document.addEventListener("console:task", (event) => {
    const task = event.detail;
    if (task.count) { feed(task.title); return; } // a bulk change: too many to list, the feed says so
    if (task.action === "created") {
      if (document.querySelector(`tr.task[data-task-id="${task.id}"]`)) return;
      const group = groupFor(task.kind || "other");
      group.querySelector("tbody").prepend(taskRow(task));
      bump(group.querySelector("[data-group-count]"), 1);
      bump(document.getElementById("open-count"), 1);
      feed(task.title);
    } else if (task.action === "status") {
      const row = document.querySelector(`tr.task[data-task-id="${task.id}"]`);
      if (!row || row.classList.contains("leaving")) return;
      if (task.status === "resolved" || task.status === "dismissed") removeTask(row);
      else { row.dataset.status = task.status; row.querySelector(".status-label").textContent = task.status; }
    }
  });
  document.addEventListener("console:order", (event) => {
    const order = event.detail;
    feed(order.title, order.id ? `/console/orders/${order.id}` : null);
  });
  document.addEventListener("console:message", (event) => {
    const message = event.detail;
    feed(message.title, message.conversation_id ? `/console/conversations/${message.conversation_id}` : null);
  });
})();
