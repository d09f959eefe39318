// The web chat client. On the gateway's own page (data-mode="page") it fills #gw-chat; on any
// other page it adds a "chat" button that opens the chat in a panel (a shadow root, so the
// portal's styles and the chat's do not mix). Texts come from GW_CHAT_TEXTS, prefixed by the
// server. No framework, no build step.
(function () {
  "use strict";
  var script = document.currentScript;
  var base = "";
  try { base = new URL(script.src, location.href).origin; } catch (e) { base = ""; }
  if (base === location.origin) base = "";
  var mode = (script && script.dataset.mode) || "widget";
  var lang = (script && script.dataset.lang) || document.documentElement.lang || navigator.language || "vi";
  lang = lang.toLowerCase().slice(0, 2) === "en" ? "en" : "vi";
  var T = GW_CHAT_TEXTS[lang];
  var storeKey = "gw-chat-log";

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text != null) e.textContent = text;
    return e;
  }

  function build(root) {
    var box = el("section", "gwc");
    box.setAttribute("aria-label", T.title);
    var head = el("header", "gwc-head");
    head.appendChild(el(mode === "page" ? "h1" : "h2", "gwc-title", T.title));
    head.appendChild(el("p", "gwc-sub", T.subtitle));
    box.appendChild(head);
    var log = el("ol", "gwc-log");
    log.setAttribute("aria-live", "polite");
    log.setAttribute("aria-relevant", "additions");
    box.appendChild(log);
    var status = el("p", "gwc-status");
    status.setAttribute("role", "status");
    box.appendChild(status);
    var form = el("form", "gwc-form");
    var label = el("label", "gwc-sr", T.placeholder);
    label.htmlFor = "gwc-input";
    var input = el("textarea", "gwc-input");
    input.id = "gwc-input";
    input.rows = 2;
    input.maxLength = 1000;
    input.placeholder = T.placeholder;
    input.autocomplete = "off";
    var send = el("button", "gwc-send", T.send);
    send.type = "submit";
    form.appendChild(label);
    form.appendChild(input);
    form.appendChild(send);
    box.appendChild(form);
    box.appendChild(el("p", "gwc-privacy", T.privacy));
    root.appendChild(box);

    var history = [];
    try { history = JSON.parse(sessionStorage.getItem(storeKey) || "[]"); } catch (e) { history = []; }
    function save() {
      try { sessionStorage.setItem(storeKey, JSON.stringify(history.slice(-80))); } catch (e) {}
    }

    function clearChoices() {
      var old = log.querySelectorAll(".gwc-choices button");
      for (var i = 0; i < old.length; i++) old[i].disabled = true;
    }

    function add(who, text, choices, keep) {
      var li = el("li", "gwc-msg gwc-" + who);
      var name = who === "me" ? T.you : who === "push" ? T.announcement : T.office;
      li.appendChild(el("span", "gwc-who", name));
      li.appendChild(el("p", "gwc-text", text));
      if (choices && choices.length) {
        clearChoices();
        var row = el("div", "gwc-choices");
        choices.forEach(function (c) {
          var b = el("button", "gwc-choice", c.label);
          b.type = "button";
          b.addEventListener("click", function () { say(c.payload, c.label); });
          row.appendChild(b);
        });
        li.appendChild(row);
      }
      log.appendChild(li);
      li.scrollIntoView({ block: "end" });
      if (keep !== false) {
        history.push({ w: who, t: text, c: choices || [] });
        save();
      }
    }

    // Sending waits for the event stream to open: its response sets the session cookie, so the
    // first message and the stream belong to one session.
    var busy = true, ready = false;
    send.disabled = true;
    function whenReady() {
      if (ready) return;
      ready = true;
      busy = false;
      send.disabled = false;
    }
    setTimeout(whenReady, 3000);
    function say(text, shown) {
      text = (text || "").trim();
      if (!text || busy) return;
      if (text.length > 1000) { status.textContent = T.too_long; return; }
      busy = true;
      send.disabled = true;
      status.textContent = "";
      clearChoices();
      add("me", shown || text);
      fetch(base + "/webchat/api/messages", {
        method: "POST", credentials: "include",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ text: text, lang: lang })
      }).then(function (resp) {
        return resp.json().then(function (body) { return { ok: resp.ok, body: body }; });
      }).then(function (r) {
        if (!r.ok) { status.textContent = r.body.message || T.error; return; }
        (r.body.replies || []).forEach(function (rep) { add("bot", rep.text, rep.choices); });
      }).catch(function () {
        status.textContent = T.error;
      }).then(function () {
        busy = false;
        send.disabled = false;
        input.focus();
      });
    }

    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var text = input.value;
      input.value = "";
      say(text);
    });
    input.addEventListener("keydown", function (ev) {
      if (ev.key === "Enter" && !ev.shiftKey) { ev.preventDefault(); form.requestSubmit ? form.requestSubmit() : form.submit(); }
    });

    if (history.length) {
      history.forEach(function (m) { add(m.w, m.t, m.c, false); });
    } else {
      add("bot", T.welcome, [{ label: T.start, payload: "/menu" }], true);
    }

    // Messages pushed to this session: announcements, notifications, answers from staff.
    var es;
    function connect() {
      es = new EventSource(base + "/webchat/api/events", { withCredentials: true });
      es.addEventListener("open", function () { status.textContent = ""; box.dataset.connected = "1"; whenReady(); });
      es.addEventListener("message", function (ev) {
        var m;
        try { m = JSON.parse(ev.data); } catch (e) { return; }
        add(m.kind === "broadcast" || m.kind === "reminder" || m.kind === "notification" ? "push" : "bot", m.text, m.choices);
      });
      es.addEventListener("reconnect", function () { es.close(); setTimeout(connect, 500); });
      es.addEventListener("error", function () {
        box.dataset.connected = "";
        if (es.readyState === EventSource.CLOSED) { status.textContent = T.offline; setTimeout(connect, 5000); }
      });
    }
    connect();
    return { focus: function () { input.focus(); } };
  }

  if (mode === "page") {
    var mount = document.getElementById("gw-chat") || document.body;
    var chat = build(mount);
    chat.focus();
    return;
  }

  // Widget: a button at the bottom right opens the chat panel.
  var host = el("div");
  host.id = "gw-chat-widget";
  document.body.appendChild(host);
  var shadow = host.attachShadow ? host.attachShadow({ mode: "open" }) : host;
  var css = el("link");
  css.rel = "stylesheet";
  css.href = base + "/webchat/static/webchat.css";
  shadow.appendChild(css);
  var wrap = el("div", "gwc-widget");
  var toggle = el("button", "gwc-toggle", T.open);
  toggle.type = "button";
  toggle.setAttribute("aria-expanded", "false");
  var panel = el("div", "gwc-panel");
  panel.hidden = true;
  wrap.appendChild(panel);
  wrap.appendChild(toggle);
  shadow.appendChild(wrap);
  var built = null;
  toggle.addEventListener("click", function () {
    var open = panel.hidden;
    panel.hidden = !open;
    toggle.textContent = open ? T.close : T.open;
    toggle.setAttribute("aria-expanded", open ? "true" : "false");
    if (open && !built) built = build(panel);
    if (open) built.focus();
  });
})();
