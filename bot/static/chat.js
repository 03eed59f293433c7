// Web chat: send to /chat/api/messages (or /chat/api/upload), poll /chat/api/messages?after=<id>.
// Everything the bot says is inserted as text (textContent), never as HTML.
// Refusals (expired session 401, too fast 429, file not expected or refused) carry a polite
// message in {"error": ...}, shown as it is.
(function () {
  "use strict";
  var labels = JSON.parse(document.getElementById("labels").textContent);
  var log = document.getElementById("log");
  var form = document.getElementById("composer");
  var input = document.getElementById("text");
  var fileInput = document.getElementById("file");
  var typing = document.getElementById("typing");
  var errorBox = document.getElementById("error");
  var lastId = 0;
  var waiting = 0;
  var timer = null;
  var stopped = false;

  function clientId() {
    return Date.now().toString(36) + Math.random().toString(36).slice(2, 12);
  }

  function showError(text) {
    errorBox.textContent = text || "";
    errorBox.hidden = !text;
  }

  function bubble(cls, who, build) {
    var li = document.createElement("li");
    li.className = cls;
    var name = document.createElement("span");
    name.className = "who";
    name.textContent = who;
    li.appendChild(name);
    var b = document.createElement("div");
    b.className = "bubble";
    build(b, li);
    li.appendChild(b);
    log.appendChild(li);
    log.scrollTop = log.scrollHeight;
    return li;
  }

  function mine(text) {
    bubble("me", labels.you, function (b) { b.textContent = text; });
  }

  function showReply(reply) {
    var staff = reply.author === "staff";
    var li = bubble(staff ? "staff" : "bot", staff ? labels.staff : labels.bot, function (b) {
      if (reply.kind === "image" && reply.url) {
        var img = document.createElement("img");
        img.src = reply.url;
        img.alt = reply.name || "";
        b.appendChild(img);
        if (reply.text) { b.appendChild(document.createTextNode(reply.text)); }
      } else if ((reply.kind === "file" || reply.kind === "link") && reply.url) {
        if (reply.text) { b.appendChild(document.createTextNode(reply.text + "\n")); }
        var a = document.createElement("a");
        a.href = reply.url;
        a.target = "_blank";
        a.rel = "noopener";
        a.textContent = reply.name || reply.url;
        b.appendChild(a);
      } else {
        b.textContent = reply.text;
      }
    });
    if (reply.buttons && reply.buttons.length) {
      var row = document.createElement("div");
      row.className = "buttons";
      reply.buttons.forEach(function (btn) {
        var el;
        if (btn.url) {
          el = document.createElement("a");
          el.href = btn.url;
          el.target = "_blank";
          el.rel = "noopener";
        } else {
          el = document.createElement("button");
          el.type = "button";
          el.addEventListener("click", function () {
            row.querySelectorAll("button").forEach(function (x) { x.disabled = true; });
            send({ text: btn.title, payload: btn.payload }, btn.title);
          });
        }
        el.textContent = btn.title;
        row.appendChild(el);
      });
      li.appendChild(row);
    }
  }

  // The server's message for a refused request, or the fallback label.
  function refusal(r, fallback) {
    return r.json().then(function (d) { return d.error || fallback; }, function () { return fallback; });
  }

  function poll() {
    var slow = false;
    fetch("/chat/api/messages?after=" + lastId, { credentials: "same-origin" })
      .then(function (r) {
        if (r.status === 401) {  // no session (cookie gone): polling again cannot help
          stopped = true;
          return refusal(r, labels.error).then(function (m) { showError(m); return {}; });
        }
        if (r.status === 429) { slow = true; return {}; }
        return r.json();
      })
      .then(function (data) {
        (data.messages || []).forEach(function (m) {
          lastId = Math.max(lastId, m.id);
          showReply(m.reply);
          waiting = 0;
        });
        typing.hidden = waiting <= 0;
      })
      .catch(function () { /* next poll retries */ })
      .finally(function () { schedule(slow); });
  }

  function schedule(slow) {
    clearTimeout(timer);
    if (stopped) { return; }
    timer = setTimeout(poll, slow ? 10000 : waiting > 0 ? 700 : 3000);
  }

  function send(body, shown) {
    showError("");
    body.client_id = clientId();
    mine(shown);
    waiting = 1;
    typing.hidden = false;
    return fetch("/chat/api/messages", {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body)
    }).then(function (r) {
      if (!r.ok) { return refusal(r, labels.error).then(function (m) { throw new Error(m); }); }
      schedule();
    }).catch(function (e) {
      waiting = 0;
      typing.hidden = true;
      showError(e.message || labels.error);
    });
  }

  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    var text = input.value.trim();
    if (!text) { showError(labels.empty); return; }
    if (text.length > 2000) { showError(labels.too_long); return; }
    input.value = "";
    send({ text: text }, text);
  });

  fileInput.addEventListener("change", function () {
    var file = fileInput.files && fileInput.files[0];
    if (!file) { showError(labels.no_file); return; }
    var data = new FormData();
    data.append("file", file);
    data.append("client_id", clientId());
    mine("📎 " + file.name);
    waiting = 1;
    typing.hidden = false;
    fetch("/chat/api/upload", { method: "POST", credentials: "same-origin", body: data })
      .then(function (r) {
        var fallback = r.status === 413 ? labels.file_too_large : labels.error;
        if (!r.ok) { return refusal(r, fallback).then(function (m) { throw new Error(m); }); }
        schedule();
      })
      .catch(function (e) { waiting = 0; typing.hidden = true; showError(e.message || labels.file_too_large); })
      .finally(function () { fileInput.value = ""; });
  });

  poll();
})();
