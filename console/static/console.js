// The console's little JavaScript: live audience counts in the composer, the progress bar of
// a broadcast while it is sent, and confirmations. Everything works without it too (the form
// posts and the pages render on the server).
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

  // Confirm before destructive actions.
  document.querySelectorAll("form[data-confirm]").forEach(function (f) {
    f.addEventListener("submit", function (ev) { if (!window.confirm(f.dataset.confirm)) ev.preventDefault(); });
  });
})();
