// The desk's phone bar: call controls through /phone/*, phone state from the desk's SSE channel.
"use strict";
(function () {
  const bar = document.getElementById("phone-bar");
  if (!bar) { return; }
  const labels = JSON.parse(bar.dataset.labels || "{}");
  const stateEl = document.getElementById("phone-state");
  const timerEl = document.getElementById("phone-timer");
  const message = document.getElementById("phone-message");
  let since = null;

  function show(s) {
    stateEl.textContent = labels[s.phone] || s.phone;
    stateEl.dataset.state = s.phone;
    since = (s.call_s !== undefined) ? Date.now() - s.call_s * 1000 : null;
    tick();
  }
  function tick() {
    if (since === null) { timerEl.textContent = ""; return; }
    const t = Math.max(0, Math.floor((Date.now() - since) / 1000));
    timerEl.textContent = String(Math.floor(t / 60)).padStart(2, "0") + ":" + String(t % 60).padStart(2, "0");
  }
  setInterval(tick, 1000);

  function post(path, body) {
    return fetch("/phone/" + path, {
      method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/json", "Accept": "application/json", "X-CSRF-Token": bar.dataset.csrf},
      body: JSON.stringify(body || {}),
    }).then(function (r) { return r.json().then(function (j) { return {ok: r.ok, body: j}; }); });
  }
  const ops = {
    hangup: function () { return post("hangup"); },
    hold: function () { return post("hold"); },
    resume: function () { return post("resume"); },
    transfer: function () { return post("transfer", {target: document.getElementById("phone-target").value}); },
    consult: function () { return post("transfer", {target: document.getElementById("phone-target").value, attended: true}); },
    complete: function () { return post("transfer/complete"); },
    conference: function () { return post("conference", {target: document.getElementById("phone-target").value}); },
    dial: function () { return post("dial", {number: document.getElementById("phone-number").value}); },
  };
  bar.querySelectorAll("button[data-op]").forEach(function (b) {
    b.addEventListener("click", function () {
      message.textContent = "";
      ops[b.dataset.op]().then(function (r) {
        message.textContent = r.ok ? "✓" : r.body.error;
        message.className = r.ok ? "ok" : "error";
      });
    });
  });
  // the phone number of a work order's "call" link fills the dial box
  window.callctlDial = function (number) { document.getElementById("phone-number").value = number; };

  fetch("/phone/state", {credentials: "same-origin", headers: {"Accept": "application/json"}})
    .then(function (r) { return r.ok ? r.json() : null; }).then(function (s) { if (s) { show(s); } });
  fetch("/phone/book", {credentials: "same-origin", headers: {"Accept": "application/json"}})
    .then(function (r) { return r.ok ? r.json() : []; }).then(function (entries) {
      const list = document.getElementById("phone-book");
      entries.forEach(function (e) {
        const o = document.createElement("option");
        o.value = "book:" + e.key;
        o.textContent = e.name + " " + e.number + (e.hours ? " (" + e.hours + ")" : "");
        list.appendChild(o);
      });
    });
  new EventSource("/app/events").addEventListener("phone", function (e) { show(JSON.parse(e.data)); });
})();
