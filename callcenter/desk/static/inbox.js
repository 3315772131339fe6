// The inbox badge on every page: its count, refreshed whenever the server says orders moved (SSE).
"use strict";

(function () {
  const badge = document.getElementById("inbox-count");
  if (!badge || !window.EventSource) return;
  function refresh() {
    fetch("/app/inbox.json", { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; }).then(function (box) {
        if (!box) return;
        badge.dataset.count = String(box.count);
        badge.textContent = String(box.count);
        badge.hidden = box.count === 0;
      });
  }
  let timer = null;
  const source = new EventSource("/app/inbox/events");
  // several orders may move at once: one fetch for a burst
  source.addEventListener("inbox", function () { clearTimeout(timer); timer = setTimeout(refresh, 150); });
  source.onopen = function () { document.body.dataset.inbox = "open"; };
})();
