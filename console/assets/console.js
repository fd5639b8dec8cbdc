// Fountain's console: the little script it needs. Pages work without it;
// with it, what runs on each instance is read after the page, an
// operation's log is live, and a destructive change's Apply waits for its
// name. Everything from outside is set as text, never as markup.
"use strict";

// Fragments: server-rendered (and so escaped) HTML loaded into a place
// of the page, a few at a time.
function loadFragments() {
  const els = Array.from(document.querySelectorAll("[data-fragment]"));
  let next = 0;
  const worker = () => {
    if (next >= els.length) return Promise.resolve();
    const el = els[next++];
    return fetch(el.dataset.fragment, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then((r) => r.ok ? r.text() : Promise.reject(new Error("the server answered " + r.status)))
      .then((html) => {
        const doc = new DOMParser().parseFromString(html, "text/html");
        el.replaceChildren(...doc.body.childNodes);
      })
      .catch((e) => { el.textContent = "Could not read the host: " + e.message; })
      .then(worker);
  };
  for (let i = 0; i < 4; i++) worker();
}

// The live log: the API's event stream through the console. The browser
// reconnects by itself and sends Last-Event-ID, so the log resumes where it
// stopped; the end of the operation reloads the page to show its outcome.
function followLog() {
  const log = document.getElementById("log");
  if (!log || !log.dataset.events) return;
  const state = document.getElementById("log-state");
  const es = new EventSource(log.dataset.events);
  const add = (text) => {
    const atEnd = log.scrollTop + log.clientHeight >= log.scrollHeight - 8;
    const line = document.createElement("span");
    line.textContent = text;
    log.append(line, "\n");
    if (atEnd) log.scrollTop = log.scrollHeight;
  };
  es.addEventListener("log", (e) => add(JSON.parse(e.data).line));
  es.addEventListener("step", (e) => {
    const s = JSON.parse(e.data);
    add("── " + s.name + ": " + s.status + (s.error ? " (" + s.error + ")" : ""));
    showStep(s);
  });
  es.addEventListener("end", () => {
    es.close();
    if (state) state.textContent = "The operation has ended.";
    window.location.reload();
  });
  es.onopen = () => { if (state) state.textContent = "Live: new lines appear as they come."; };
  es.onerror = () => { if (state) state.textContent = "Reconnecting… (the log resumes where it stopped)"; };
}

// The class of a status badge, from the stylesheet's fixed set (as the
// server's statusClass).
function statusClass(s) {
  if (["succeeded", "ok", "running", "green", "healthy", "available", "current"].includes(s)) return "good";
  if (["changed", "would_change", "pending", "starting", "yellow", "previous", "swapping"].includes(s)) return "warn";
  if (["failed", "cancelled", "interrupted", "red", "unhealthy", "exited", "stopped"].includes(s)) return "bad";
  return "plain";
}

// showStep puts a step event in the steps table: the running row of that
// name is updated, or a row is added.
function showStep(s) {
  const body = document.getElementById("steps");
  if (!body) return;
  const rows = Array.from(body.rows).filter((r) => r.dataset.step === s.name && r.dataset.status === "running");
  let row = rows[rows.length - 1];
  if (!row) {
    row = body.insertRow();
    for (let i = 0; i < 5; i++) row.insertCell();
    row.cells[0].textContent = String(body.rows.length - 1);
    row.cells[1].className = "wrap";
    row.cells[3].className = "wrap";
  }
  row.dataset.step = s.name;
  row.dataset.status = s.status;
  row.cells[1].textContent = s.name;
  const badge = document.createElement("span");
  badge.className = "badge " + statusClass(s.status);
  badge.textContent = s.status;
  row.cells[2].replaceChildren(badge);
  row.cells[3].textContent = [s.reason, s.error].filter(Boolean).join(" ");
  row.cells[4].textContent = s.duration_ms < 1000 ? s.duration_ms + " ms" : (s.duration_ms / 1000).toFixed(1) + " s";
}

// A destructive change: Apply stays disabled until the name is typed
// (and, for a stack plan that deletes, the box is ticked).
function guardConfirm() {
  const button = document.getElementById("apply");
  const musts = Array.from(document.querySelectorAll("input[data-must]"));
  const ticks = Array.from(document.querySelectorAll("input[data-must-check]"));
  if (!button || musts.length + ticks.length === 0) return;
  const check = () => {
    button.disabled = !(musts.every((i) => i.value.trim() === i.dataset.must) && ticks.every((c) => c.checked));
  };
  musts.forEach((i) => i.addEventListener("input", check));
  ticks.forEach((c) => c.addEventListener("change", check));
  check();
}

// Polled fragments: a part of the page read again every second while
// the operation runs (a stack apply's resources); the end of the
// operation reloads the whole page.
function pollFragments() {
  document.querySelectorAll("[data-poll]").forEach((el) => {
    const tick = () => {
      fetch(el.dataset.poll, { credentials: "same-origin", headers: { Accept: "text/html" } })
        .then((r) => r.ok ? r.text() : Promise.reject(new Error("the server answered " + r.status)))
        .then((html) => {
          const doc = new DOMParser().parseFromString(html, "text/html");
          el.replaceChildren(...doc.body.childNodes);
        })
        .catch(() => {})
        .then(() => setTimeout(tick, 1000));
    };
    setTimeout(tick, 1000);
  });
}

// Copy buttons: the text of a field to the clipboard, or, where the
// browser does not allow it, selected for Ctrl+C.
function copyButtons() {
  document.querySelectorAll("button[data-copy]").forEach((b) => {
    const from = document.getElementById(b.dataset.copy);
    const state = document.getElementById(b.dataset.state);
    if (!from) return;
    b.hidden = false;
    const say = (text) => { if (state) state.textContent = text; };
    const select = () => { from.focus(); from.select(); say("Selected: copy it with Ctrl+C."); };
    b.addEventListener("click", () => {
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(from.value).then(() => say("Copied."), select);
      } else {
        select();
      }
    });
  });
}

document.addEventListener("DOMContentLoaded", () => {
  loadFragments();
  followLog();
  guardConfirm();
  pollFragments();
  copyButtons();
});
