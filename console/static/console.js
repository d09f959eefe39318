// The console's little JavaScript: live audience counts in the composer, the progress bar of
// a broadcast while it is sent, the cases inbox and a case's timeline kept current (polling the
// server, which renders the rows), canned replies, and confirmations. Everything works without
// it too (the form posts and the pages render on the server).
(function () {
  "use strict";
  function $(id) { return document.getElementById(id); }
  function text(el, s) { if (el) el.textContent = s == null ? "" : s; }
  function csrf(form) { var i = form.querySelector("input[name=csrf]"); return i ? i.value : ""; }

  // Composer: recount on every change (debounced).
  var form = $("compose");
  if (form) {
    var timer = null, seq = 0, last = null;
    var refresh = function () {
      var my = ++seq;
      var body = new URLSearchParams(new FormData(form));
      fetch(form.dataset.preview, {
        method: "POST", credentials: "same-origin",
        headers: { "X-CSRF-Token": csrf(form), "Content-Type": "application/x-www-form-urlencoded" },
        body: body
      }).then(function (r) { return r.json(); }).then(function (pv) {
        if (my !== seq) return;
        last = pv;
        var errs = pv.errors || {};
        var msgs = Object.keys(errs).map(function (k) { return errs[k]; });
        text($("pv-errors"), msgs.join(" "));
        text($("pv-recipients"), msgs.length && !pv.recipients ? "—" : (pv.recipients || 0).toLocaleString("vi-VN"));
        var dl = $("pv-channels");
        dl.innerHTML = "";
        Object.keys(pv.per_channel || {}).forEach(function (k) {
          var dt = document.createElement("dt"); dt.textContent = k;
          var dd = document.createElement("dd"); dd.textContent = pv.per_channel[k];
          dl.appendChild(dt); dl.appendChild(dd);
        });
        text($("pv-excluded"), pv.excluded || 0);
        var box = $("pv-sms");
        box.innerHTML = "";
        (pv.sms || []).forEach(function (s) {
          var h = document.createElement("p"); h.className = "label"; h.textContent = s.label + " · " + s.segments;
          var pre = document.createElement("div"); pre.className = "sms-box" + (s.too_long ? " too-long" : ""); pre.textContent = s.text;
          box.appendChild(h); box.appendChild(pre);
        });
        text($("pv-total"), pv.sms_total || "");
        form.dataset.previewed = pv.key || "";
        text($("pv-cost"), pv.cost || "");
        form.dataset.ready = "1";
      }).catch(function () {});
    };
    var schedule = function () { clearTimeout(timer); timer = setTimeout(refresh, 250); };
    form.addEventListener("input", schedule);
    form.addEventListener("change", schedule);
    form.addEventListener("submit", function (ev) {
      if (last && last.confirm && !window.confirm(last.confirm)) ev.preventDefault();
    });
    refresh();
  }

  // A broadcast's page: follow its progress while it is sent.
  var prog = $("progress");
  if (prog && prog.dataset.live) {
    var fill = function (id, rows) {
      var tb = document.querySelector("#" + id + " tbody");
      if (!tb || !rows.length) return;
      tb.innerHTML = "";
      rows.forEach(function (r) {
        var tr = document.createElement("tr");
        var a = document.createElement("td"); a.textContent = r.reason;
        var b = document.createElement("td"); b.className = "num"; b.textContent = r.count;
        tr.appendChild(a); tr.appendChild(b); tb.appendChild(tr);
      });
    };
    var tick = function () {
      fetch(prog.dataset.src, { credentials: "same-origin" }).then(function (r) { return r.json(); }).then(function (p) {
        $("bar").value = p.percent;
        text($("bar"), p.percent + "%");
        text($("of"), p.of);
        text($("sent"), p.sent);
        text($("pending"), p.pending);
        var st = $("st");
        st.className = "status s-" + p.status;
        text(st, p.status_label);
        fill("failed", p.failed);
        fill("skipped", p.skipped);
        if (p.live) setTimeout(tick, 1000);
        else location.reload(); // finished: show the final report (times, no cancel button)
      }).catch(function () { setTimeout(tick, 3000); });
    };
    setTimeout(tick, 500);
  }

  // Parts of a page the server renders again while people write: poll every few seconds
  // (not while the tab is hidden); the server answers 204 when nothing changed.
  var follow = function (src, every, apply) {
    var v = "";
    var tick = function () {
      if (document.hidden) { setTimeout(tick, every); return; }
      fetch(src + (src.indexOf("?") < 0 ? "?" : "&") + "v=" + v, { credentials: "same-origin" }).then(function (r) {
        if (r.status === 204) return null;
        if (!r.ok) throw new Error(r.status);
        return r.json();
      }).then(function (p) {
        if (p) { v = p.v; apply(p); }
        setTimeout(tick, every);
      }).catch(function () { setTimeout(tick, every * 3); });
    };
    setTimeout(tick, every);
  };
  var mark = function (root, sel, key) {
    var seen = {};
    root.querySelectorAll(sel).forEach(function (e) { seen[e.id || e.dataset.code] = e.dataset[key] || "1"; });
    return seen;
  };

  // The cases inbox: new cases and new messages appear, highlighted.
  var inbox = $("inbox");
  if (inbox && inbox.dataset.live) {
    var body = inbox.querySelector("tbody");
    follow(inbox.dataset.live, 4000, function (p) {
      var before = mark(body, "tr[data-code]", "updated");
      body.innerHTML = p.html;
      body.querySelectorAll("tr[data-code]").forEach(function (tr) {
        if (before[tr.dataset.code] !== tr.dataset.updated) tr.classList.add("fresh");
      });
    });
  }

  // A case's page: its timeline and facts follow new messages and delivery results.
  var tl = $("timeline");
  if (tl && tl.dataset.live) {
    follow(tl.dataset.live, 3000, function (p) {
      var before = mark(tl, "li.ev", "x");
      var dl = {};
      tl.querySelectorAll(".dlv").forEach(function (d) { dl[d.parentNode.id] = d.className; });
      tl.innerHTML = p.timeline;
      tl.querySelectorAll("li.ev").forEach(function (li) {
        var d = li.querySelector(".dlv");
        if (!before[li.id] || (d && dl[li.id] !== d.className)) li.classList.add("fresh");
      });
      var facts = $("facts");
      if (facts) facts.innerHTML = p.facts;
    });
  }

  // Canned replies: the chosen one goes into the reply box, to be read and edited.
  var canned = $("canned"), reply = $("reply-text");
  if (canned && reply) {
    canned.addEventListener("change", function () {
      var o = canned.options[canned.selectedIndex];
      if (o && o.dataset.text) { reply.value = o.dataset.text; reply.focus(); }
    });
  }

  // Confirm before destructive actions.
  document.querySelectorAll("form[data-confirm]").forEach(function (f) {
    f.addEventListener("submit", function (ev) { if (!window.confirm(f.dataset.confirm)) ev.preventDefault(); });
  });
})();
