// Staff console: new messages and the waiting count appear without reloading (polling JSON endpoints).
(function () {
  "use strict";
  const AUTHOR = { citizen: "Công dân", bot: "Trợ lý", staff: "Cán bộ" };

  function render(list, m) {
    const li = document.createElement("li");
    li.className = `msg ${m.direction} ${m.author}`;
    li.dataset.id = m.id;
    const meta = document.createElement("span");
    meta.className = "meta";
    meta.textContent = `${AUTHOR[m.author] || m.author} · ${m.at}`;
    li.appendChild(meta);
    if (m.text) {
      const t = document.createElement("span");
      t.className = "text";
      t.textContent = m.text;
      li.appendChild(t);
    }
    for (const b of m.buttons || []) {
      const c = document.createElement("span");
      c.className = "chip";
      c.textContent = b;
      li.appendChild(c);
    }
    for (const a of m.attachments || []) {
      const safe = /^(https?:\/\/|\/)/.test(a.url || "");
      const link = document.createElement(safe ? "a" : "span");
      link.className = "att";
      if (safe) {
        link.href = a.url;
        link.rel = "noopener noreferrer";
        link.target = "_blank";
      }
      link.textContent = `📎 ${a.name || a.kind}`;
      li.appendChild(link);
    }
    list.appendChild(li);
  }

  async function pollTranscript(list) {
    try {
      const res = await fetch(`${list.dataset.poll}?after=${list.dataset.last}`, {
        headers: { Accept: "application/json" }, credentials: "same-origin",
      });
      if (res.ok) {
        const data = await res.json();
        const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
        for (const m of data.messages) {
          if (!list.querySelector(`[data-id="${m.id}"]`)) render(list, m);
          list.dataset.last = m.id;
        }
        if (data.messages.length && atBottom) list.scrollTop = list.scrollHeight;
      }
    } catch (err) { /* network hiccup: try again next tick */ }
    setTimeout(() => pollTranscript(list), 2000);
  }

  async function pollQueue(badge) {
    try {
      const res = await fetch(badge.dataset.url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
      if (res.ok) {
        const data = await res.json();
        badge.textContent = data.waiting ? String(data.waiting) : "";
      }
    } catch (err) { /* ignore */ }
    setTimeout(() => pollQueue(badge), 10000);
  }

  document.addEventListener("DOMContentLoaded", () => {
    const list = document.getElementById("transcript");
    if (list) {
      list.scrollTop = list.scrollHeight;
      if (list.dataset.poll) pollTranscript(list);
    }
    const badge = document.getElementById("queue-badge");
    if (badge) pollQueue(badge);
  });
})();
