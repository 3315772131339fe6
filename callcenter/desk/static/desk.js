// The agent desktop: screen-pop over server-sent events, agent state, saving the order, KB search.
// Everything a caller or citizen typed is inserted with textContent, never as HTML.
"use strict";

(function () {
  const boot = JSON.parse(document.getElementById("boot").textContent);
  const msg = JSON.parse(document.getElementById("messages").textContent);
  const $ = (id) => document.getElementById(id);
  let currentLinkedid = null;
  let linkedTo = {};  // orders the current call was linked to (order number → true)

  function text(el, value) { el.textContent = value === null || value === undefined || value === "" ? "-" : String(value); }
  function clear(el) { while (el.firstChild) el.removeChild(el.firstChild); }
  function li(parent, value, href) {
    const item = document.createElement("li");
    if (href) {
      const a = document.createElement("a");
      a.href = href;
      a.textContent = value;
      item.appendChild(a);
    } else {
      item.textContent = value;
    }
    parent.appendChild(item);
    return item;
  }
  function localTime(epoch) {
    if (!epoch) return "";
    return new Date(epoch * 1000).toLocaleString();
  }

  // ---- agent state --------------------------------------------------------------------------------
  function showAgent(view) {
    const el = $("agent-state");
    el.dataset.state = view.state;
    el.textContent = msg.state[view.state] || view.state;
    $("agent-reason").textContent = view.pause_reason ? "(" + (msg.pause[view.pause_reason] || view.pause_reason) + ")" : "";
  }
  document.querySelectorAll("#statusbar button[data-action]").forEach(function (button) {
    button.addEventListener("click", function () {
      const body = new URLSearchParams({ action: button.dataset.action });
      if (button.dataset.action === "pause") body.set("reason", $("pause-reason").value);
      $("state-error").textContent = "";
      fetch("/app/desk/state", {
        method: "POST", body: body, credentials: "same-origin",
        headers: { "X-CSRF-Token": boot.csrf, "Accept": "application/json" },
      }).then(function (r) {
        if (!r.ok) return r.json().then(function (j) { $("state-error").textContent = j.error || r.status; });
      });
    });
  });

  // ---- screen-pop ---------------------------------------------------------------------------------
  function showPop(p) {
    // A new call pre-fills the order and clears the last caller's history; an update of the same
    // call (connected after ringing, a late IVR step or tag) keeps what the agent already typed.
    const fresh = p.linkedid !== currentLinkedid;
    currentLinkedid = p.linkedid;
    $("pop").classList.add("active");
    text($("pop-phase"), msg[p.phase] || p.phase);
    text($("pop-number"), p.caller_number);
    text($("pop-name"), p.caller_name);
    text($("pop-hotline"), p.hotline ? p.hotline + (p.did && p.did !== p.hotline ? " (" + p.did + ")" : "") : p.did);
    const ivr = $("pop-ivr");
    clear(ivr);
    const steps = (p.ivr_path || []).filter(function (s) { return s.kind !== "flow"; });
    if (!steps.length) li(ivr, msg.no_ivr);
    steps.forEach(function (s) {
      const item = li(ivr, (s.label || s.node) + (s.result ? " → " + (s.result_label || s.result) : ""));
      item.className = "ivr-step";
      item.dataset.node = s.node;
    });
    const words = p.tag_labels || {};
    const tags = Object.entries(p.tags || {}).map(function (kv) {
      return words[kv[0]] ? words[kv[0]][0] + "：" + words[kv[0]][1] : kv[0] + "=" + kv[1];
    });
    text($("pop-tags"), tags.join(words && Object.keys(words).length ? "；" : ", "));
    const cat = (p.tags || {}).category;
    if (cat && (fresh || !$("f-category").value) && document.querySelector('#f-category option[value="' + CSS.escape(cat) + '"]')) $("f-category").value = cat;
    if (!fresh) return;
    linkedTo = {};
    // A new call gets a new, clean form and its own draft; what was typed for the last call stays
    // in that call's draft (listed, resumable), never relabelled with this caller's number.
    const kept = knownDrafts.filter(function (d) { return d.linkedid && d.linkedid === p.linkedid; })[0];
    if (!draftFor[p.linkedid] && kept) {
      resumeDraft(kept);  // this call's draft from before a reload of the page
    } else if (!draftFor[p.linkedid]) {
      flushDraft();
      resetForm();
      openDraft(p.linkedid, p.caller_number || "");
      // pre-fill the new order (the agent may correct anything)
      $("f-caller_number").value = p.caller_number || "";
      $("f-contact").value = p.caller_number || "";
      $("f-caller_name").value = p.caller_name || "";
      $("f-hotline").value = p.hotline || "";
      if (cat && document.querySelector('#f-category option[value="' + CSS.escape(cat) + '"]')) $("f-category").value = cat;
      // the IVR's choice of request type carries over (a tag the flow sets)
      const rtype = (p.tags || {}).request_type;
      if (rtype && document.querySelector('#f-request_type option[value="' + CSS.escape(rtype) + '"]')) $("f-request_type").value = rtype;
      showHandling();
    }
    $("save-result").textContent = "";
    clear($("pop-orders"));
    clear($("pop-calls"));
    showDuplicates([]);
  }
  function showHistory(h) {
    if (h.linkedid !== currentLinkedid) return;
    const orders = $("pop-orders"), calls = $("pop-calls");
    // a progress enquiry (IVR key 3): the order the caller keyed in, with its state and deadline
    const asked = $("pop-asked");
    asked.hidden = !h.asked_digits;
    if (h.asked) {
      asked.dataset.number = h.asked.number;
      const link = document.createElement("a");
      link.href = "/app/orders/" + encodeURIComponent(h.asked.number);
      link.textContent = h.asked.number;
      clear($("pop-asked-text"));
      $("pop-asked-text").appendChild(link);
      $("pop-asked-text").appendChild(document.createTextNode(" " + (msg.order_state[h.asked.state] || h.asked.state) +
        (h.asked.deadline_at ? " · " + msg.deadline + " " + localTime(h.asked.deadline_at) : "") + " " + (h.asked.title || "")));
    } else if (h.asked_digits) {
      asked.dataset.number = "";
      $("pop-asked-text").textContent = h.asked_digits + " " + msg.asked_missing;
    }
    clear(orders);
    clear(calls);
    if (!h.orders.length) li(orders, msg.none);
    h.orders.forEach(function (o) {
      const item = li(orders, o.number + " " + localTime(o.created_at) + " " + (o.title || "") + " · " + (msg.order_state[o.state] || o.state) +
        (o.deadline_at ? " · " + msg.deadline + " " + localTime(o.deadline_at) : ""), "/app/orders/" + encodeURIComponent(o.number));
      item.dataset.number = o.number;
      item.dataset.state = o.state;
    });
    if (!h.calls.length) li(calls, msg.none);
    h.calls.forEach(function (c) {
      const item = li(calls, localTime(c.started_at) + " " + (c.hotline || "") + " " + (msg.disposition[c.disposition] || c.disposition) + (c.answered_by ? " · " + c.answered_by : ""));
      item.dataset.linkedid = c.linkedid;
    });
    showDuplicates(h.orders.filter(function (o) { return ["merged", "discarded", "closed", "archived"].indexOf(o.state) < 0; }));
  }
  function showDuplicates(list) {
    const box = $("dups"), ul = $("dups-list");
    clear(ul);
    list.forEach(function (o) {
      const item = li(ul, o.number + " " + (o.title || ""), "/app/orders/" + encodeURIComponent(o.number));
      item.dataset.number = o.number;
      if (currentLinkedid) item.appendChild(linkedTo[o.number] ? linkedNote(msg.linked, true) : linkButton(o.number, currentLinkedid));
    });
    box.hidden = list.length === 0;
  }
  // The caller rang again about an open order: link this call to it instead of registering a new one.
  function linkButton(number, linkedid) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "link-call";
    button.textContent = msg.link_call;
    button.addEventListener("click", function () {
      fetch("/app/orders/" + encodeURIComponent(number) + "/link", {
        method: "POST", body: new URLSearchParams({ linkedid: linkedid }), credentials: "same-origin",
        headers: { "X-CSRF-Token": boot.csrf, "Accept": "application/json" },
      }).then(function (r) {
        return r.json().then(function (j) {
          if (r.ok && linkedid === currentLinkedid) linkedTo[number] = true;
          button.replaceWith(linkedNote(r.ok ? msg.linked : (j.error || r.status), r.ok));
        });
      });
    });
    return button;
  }
  function linkedNote(label, ok) {
    const note = document.createElement("span");
    note.className = ok ? "ok linked" : "error";
    note.textContent = label;
    return note;
  }

  function connect() {
    const source = new EventSource("/app/events");
    source.addEventListener("agent", function (e) { showAgent(JSON.parse(e.data)); });
    source.addEventListener("pop", function (e) { showPop(JSON.parse(e.data)); });
    source.addEventListener("pop_update", function (e) {
      const p = JSON.parse(e.data);
      if (p.linkedid === currentLinkedid) showPop(p);
    });
    source.addEventListener("history", function (e) { showHistory(JSON.parse(e.data)); });
    source.addEventListener("pop_cancel", function (e) {
      if (JSON.parse(e.data).linkedid === currentLinkedid) text($("pop-phase"), msg.ended);
    });
    source.addEventListener("call_ended", function (e) {
      if (JSON.parse(e.data).linkedid === currentLinkedid) text($("pop-phase"), msg.ended);
    });
    source.addEventListener("worklist", refreshWorklist);
    source.addEventListener("acw", function (e) { showAcw(JSON.parse(e.data)); });
    source.onerror = function () { $("state-error").textContent = source.readyState === 2 ? msg.stream_lost : ""; };
    source.onopen = function () { $("state-error").textContent = ""; document.body.dataset.stream = "open"; };
  }

  // ---- saving the order ---------------------------------------------------------------------------
  // ---- drafts: one per call, kept on the server, saved exactly once ------------------------------------
  const draftFor = {};  // linkedid → draft token (this page's calls)
  let draftTimer = null;
  let knownDrafts = [];  // the last list of open drafts
  function newToken() {
    const bytes = new Uint8Array(18);
    crypto.getRandomValues(bytes);
    return Array.from(bytes, function (b) { return b.toString(16).padStart(2, "0"); }).join("");
  }
  function post(url, body) {
    return fetch(url, { method: "POST", body: body, credentials: "same-origin",
                        headers: { "X-CSRF-Token": boot.csrf, "Accept": "application/json" } });
  }
  function formFields() {
    const body = new URLSearchParams(new FormData($("order-form")));
    body.delete("_csrf");
    body.delete("source");
    return body;
  }
  // ---- the handling chosen at save, the department suggested from the category (never pre-selected) ------
  function showHandling() {
    const mode = $("order-form").elements.handling.value;
    document.querySelectorAll("#handling .h-immediate").forEach(function (el) { el.hidden = mode !== "immediate"; });
    document.querySelectorAll("#handling .h-dispatch").forEach(function (el) { el.hidden = mode !== "dispatch"; });
    document.querySelectorAll("#handling .h-note").forEach(function (el) { el.hidden = mode !== "dispatch" && mode !== "coordinated"; });
    const code = (boot.suggest || {})[$("f-category").value] || "";
    const option = code ? document.querySelector('#f-department option[value="' + CSS.escape(code) + '"]') : null;
    $("dept-suggest").hidden = mode !== "dispatch" || !option;
    $("dept-suggest").dataset.code = option ? code : "";
    $("dept-suggest-name").textContent = option ? option.textContent : "";
  }
  document.querySelectorAll('#handling input[name="handling"]').forEach(function (r) { r.addEventListener("change", showHandling); });
  $("f-category").addEventListener("change", showHandling);
  $("dept-suggest-use").addEventListener("click", function () {
    $("f-department").value = $("dept-suggest").dataset.code;
    scheduleDraft();
  });
  $("f-assist").addEventListener("change", function () {
    $("f-assist_departments").value = Array.from($("f-assist").selectedOptions, function (o) { return o.value; }).join(",");
  });
  function setAssist(value) {
    const codes = (value || "").split(",");
    Array.from($("f-assist").options).forEach(function (o) { o.selected = codes.indexOf(o.value) >= 0; });
    $("f-assist_departments").value = value || "";
  }
  function resetForm() {
    $("order-form").reset();
    setAssist("");
    $("f-linkedid").value = "";
    $("f-draft").value = "";
    $("draft-of").textContent = "";
    $("save-result").textContent = "";
    delete $("order-form").dataset.saved;
    showHandling();
  }
  function openDraft(linkedid, callerNumber, token) {
    token = token || newToken();
    if (linkedid) draftFor[linkedid] = token;
    $("f-draft").value = token;
    $("f-linkedid").value = linkedid || "";
    $("draft-of").textContent = msg.draft_of_call + " " + (callerNumber || "-");
    $("draft-of").dataset.caller = callerNumber || "";
    // The server keeps it from the first thing the agent types (a call nobody wrote about leaves no draft).
    return Promise.resolve();
  }
  function flushDraft() {
    if (draftTimer) { clearTimeout(draftTimer); draftTimer = null; }
    const token = $("f-draft").value;
    if (!token || $("order-form").dataset.saved === token) return Promise.resolve();
    const body = formFields();
    body.set("caller_number_of_call", $("draft-of").dataset.caller || "");
    return post("/app/drafts/" + token, body).then(refreshDrafts);
  }
  function scheduleDraft() {
    if (draftTimer) clearTimeout(draftTimer);
    draftTimer = setTimeout(flushDraft, 700);
  }
  $("order-form").addEventListener("input", scheduleDraft);
  $("order-form").addEventListener("change", scheduleDraft);
  function refreshDrafts() {
    return fetch("/app/drafts.json", { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { return r.ok ? r.json() : []; }).then(function (list) {
        knownDrafts = list;
        const ul = $("drafts");
        clear(ul);
        const others = list.filter(function (d) { return d.token !== $("f-draft").value; });
        if (!others.length) { li(ul, msg.draft_none).id = "drafts-empty"; return; }
        others.forEach(function (d) {
          const f = d.fields || {};
          const item = li(ul, msg.draft_of_call + " " + (d.caller_number || "-") + " " + localTime(d.created_at) + " — " + (f.title || f.content || "").slice(0, 30) + " ");
          item.className = "draft";
          item.dataset.token = d.token;
          item.dataset.linkedid = d.linkedid;
          const resume = document.createElement("button");
          resume.type = "button"; resume.className = "draft-resume"; resume.textContent = msg.draft_resume;
          resume.addEventListener("click", function () { resumeDraft(d); });
          const drop = document.createElement("button");
          drop.type = "button"; drop.className = "draft-discard"; drop.textContent = msg.draft_discard;
          drop.addEventListener("click", function () { post("/app/drafts/" + d.token + "/discard", new URLSearchParams()).then(refreshDrafts); });
          item.appendChild(resume);
          item.appendChild(drop);
        });
      });
  }
  function resumeDraft(d) {
    flushDraft().then(function () {
      resetForm();
      const f = d.fields || {};
      Object.keys(f).forEach(function (k) {
        const el = $("order-form").elements[k];
        if (el && el.type !== "hidden") el.value = f[k];
      });
      setAssist(f.assist_departments || "");
      showHandling();
      $("f-draft").value = d.token;
      $("f-linkedid").value = d.linkedid || "";
      $("draft-of").textContent = msg.draft_of_call + " " + (d.caller_number || "-");
      $("draft-of").dataset.caller = d.caller_number || "";
      if (d.linkedid) draftFor[d.linkedid] = d.token;
      refreshDrafts();
    });
  }

  // ---- saving the order (through its draft: a double click makes one order) -----------------------------
  $("order-form").addEventListener("submit", function (e) {
    e.preventDefault();
    if (!$("f-draft").value) { openDraft("", $("f-caller_number").value).then(save); return; }
    save();
  });
  let saving = false;
  function save() {
    if (saving) return;  // the server refuses a second order for the draft anyway
    saving = true;
    const token = $("f-draft").value;
    const body = new URLSearchParams(new FormData($("order-form")));
    const ready = $("order-form").dataset.saved === token ? Promise.resolve() : flushDraft();
    ready.then(function () { return post("/app/drafts/" + token + "/order", body); }).then(function (r) {
      saving = false;
      return r.json().then(function (j) {
        const out = $("save-result");
        clear(out);
        if (!r.ok) { out.textContent = msg.save_failed + ": " + (j.error || r.status); out.className = "error"; return; }
        $("order-form").dataset.saved = token;
        refreshDrafts();
        out.className = "ok";
        out.appendChild(document.createTextNode(msg.saved + " "));
        const a = document.createElement("a");
        a.href = j.url;
        a.id = "saved-order";
        a.textContent = j.number;
        out.appendChild(a);
      });
    });
  }
  function checkDuplicates() {
    const q = new URLSearchParams({ caller_number: $("f-caller_number").value, address: $("f-address").value, category: $("f-category").value });
    fetch("/app/duplicates.json?" + q, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { return r.ok ? r.json() : []; }).then(showDuplicates);
  }
  ["f-caller_number", "f-address", "f-category"].forEach(function (id) { $(id).addEventListener("change", checkDuplicates); });

  // ---- knowledge base ------------------------------------------------------------------------------
  $("kb-form").addEventListener("submit", function (e) {
    e.preventDefault();
    const q = $("kb-q").value.trim();
    if (!q) return;
    fetch("/app/kb/search.json?q=" + encodeURIComponent(q), { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { return r.json(); }).then(function (hits) {
        const ol = $("kb-results");
        clear(ol);
        if (!hits.length) li(ol, msg.no_results);
        hits.forEach(function (h) {
          const item = li(ol, h.title, "/app/kb/" + h.id);
          item.querySelector("a").target = "_blank";
          const s = document.createElement("div");
          s.className = "snippet";
          s.textContent = h.snippet;
          item.appendChild(s);
        });
      });
  });

  // ---- work list -------------------------------------------------------------------------------------
  function refreshWorklist() {
    fetch("/app/worklist.json", { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { return r.json(); }).then(function (wl) {
        const ul = $("worklist");
        clear(ul);
        function takeForm(action, label, cls) {
          const item = document.createElement("li");
          item.className = cls;
          const form = document.createElement("form");
          form.method = "post";
          form.action = action;
          form.className = "inline";
          const csrf = document.createElement("input");
          csrf.type = "hidden"; csrf.name = "_csrf"; csrf.value = boot.csrf;
          const button = document.createElement("button");
          button.textContent = msg.take;
          form.appendChild(csrf);
          form.appendChild(document.createTextNode(label + " "));
          form.appendChild(button);
          item.appendChild(form);
          ul.appendChild(item);
        }
        wl.submissions.forEach(function (o) {
          takeForm("/app/orders/" + encodeURIComponent(o.number) + "/take",
                   (msg.source[o.source] || o.source) + " " + o.number + " " + localTime(o.created_at) + " — " + (o.title || ""), "wl-sub");
        });
        wl.voicemails.forEach(function (v) {
          takeForm("/app/voicemails/" + encodeURIComponent(v.id) + "/take",
                   msg.source.voicemail + " " + v.caller_number + " " + localTime(v.created_at) + " (" + v.duration_s + "s)", "wl-vm");
        });
        if (!wl.submissions.length && !wl.voicemails.length) {
          const item = li(ul, msg.empty);
          item.id = "worklist-empty";
        }
      });
  }

  // ---- after-call work: countdown, extend once, "ready" ends it ------------------------------------------
  let acwUntil = 0, acwTick = null;
  function showAcw(a) {
    const box = $("acw");
    if (!a || !a.active) {
      box.hidden = true;
      box.dataset.active = "false";
      if (acwTick) { clearInterval(acwTick); acwTick = null; }
      return;
    }
    acwUntil = Date.now() + a.remaining_s * 1000;  // the browser's clock: no skew with the server's
    box.hidden = false;
    box.dataset.active = "true";
    box.dataset.linkedid = a.linkedid || "";
    $("btn-acw-extend").disabled = !!a.extended;
    const tick = function () { $("acw-remaining").textContent = String(Math.max(0, Math.ceil((acwUntil - Date.now()) / 1000))); };
    tick();
    if (!acwTick) acwTick = setInterval(tick, 250);
  }
  $("btn-acw-extend").addEventListener("click", function () {
    $("state-error").textContent = "";
    post("/app/desk/acw/extend", new URLSearchParams()).then(function (r) {
      return r.json().then(function (j) { if (r.ok) showAcw(j); else $("state-error").textContent = j.error || r.status; });
    });
  });

  showAgent(boot.agent);
  showAcw(boot.acw);
  showHandling();
  refreshDrafts().then(function () { if (boot.current) showPop(boot.current); });
  connect();
})();
