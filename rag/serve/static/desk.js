// The reviewer's desk: plain JavaScript over the JSON API (no framework, no external assets).
"use strict";

const $ = (sel, root = document) => root.querySelector(sel);

function reviewer() {
  return ($("#reviewer")?.value || "").trim();
}

function say(text, ok = false) {
  const box = $("#message");
  box.textContent = text;
  box.className = ok ? "ok" : "";
  box.hidden = !text;
  if (text) box.scrollIntoView({ block: "nearest" });
}

async function call(method, url, body) {
  const response = await fetch(url, {
    method,
    headers: body ? { "Content-Type": "application/json" } : {},
    body: body ? JSON.stringify(body) : undefined,
    credentials: "same-origin",
  });
  let data = null;
  try { data = await response.json(); } catch (e) { data = null; }
  if (!response.ok) {
    const message = data && data.error ? data.error : `the server answered ${response.status}`;
    const understood = data && data.understood ? ` (understood: ${data.understood.join("; ")})` : "";
    throw new Error(message + understood);
  }
  return data;
}

function session() {
  return $("#draft")?.dataset.session;
}

// --- the reviewer's name, kept in this browser ---------------------------------------------
function keepReviewer() {
  const input = $("#reviewer");
  if (!input) return;
  input.value = localStorage.getItem("meddraft.reviewer") || "";
  input.addEventListener("input", () => localStorage.setItem("meddraft.reviewer", input.value.trim()));
}

// --- new assessment, with progress ----------------------------------------------------------
function assessForm() {
  const form = $("#assess-form");
  if (!form) return;
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    say("");
    const progress = $("#progress"), text = $("#progress-text"), button = $("#assess-button");
    const started = performance.now();
    progress.hidden = false;
    button.disabled = true;
    const tick = setInterval(() => {
      const seconds = (performance.now() - started) / 1000;
      text.textContent = `Drafting (reading the request, the policy, the case and the evidence; ` +
        `then writing and verifying)… ${seconds.toFixed(1)} s`;
    }, 100);
    try {
      const data = await call("POST", "/api/assess", {
        question: $("#question").value, case_id: form.dataset.case,
        generator: $("#generator").value, reviewer: reviewer(),
      });
      text.textContent = `Drafted in ${data.seconds} s; opening the draft…`;
      window.location.assign(data.url);
    } catch (error) {
      progress.hidden = true;
      say(error.message);
    } finally {
      clearInterval(tick);
      button.disabled = false;
    }
  });
}

// --- citations: the cited passage, in place -------------------------------------------------
function passageBox(data) {
  const box = document.createElement("div");
  box.className = "passage";
  const where = document.createElement("div");
  where.className = "where";
  const link = document.createElement("a");
  link.href = data.document_url;
  link.textContent = data.title;
  where.append(`[${data.n}] `, link, ` · ${data.kind.replace("_", " ")}${data.locator ? " · " + data.locator : ""}`);
  const [start, end] = data.highlight;
  const mark = document.createElement("mark");
  mark.textContent = data.text.slice(start, end);
  const body = document.createElement("div");
  body.className = "text";
  body.append(data.text.slice(0, start), mark, data.text.slice(end));
  box.append(where, body);
  return box;
}

async function openCitation(button) {
  const holder = button.closest("li, td, .rationale, p") || button.parentElement;
  const open = holder.querySelector(`:scope > .passage[data-n="${button.dataset.n}"]`);
  if (open) { open.remove(); return; }
  const params = new URLSearchParams({ quote: button.dataset.quote || "" });
  if (button.dataset.chunk) params.set("chunk", button.dataset.chunk);
  try {
    const data = await call("GET", `/api/sessions/${session()}/citations/${button.dataset.n}?${params}`);
    const box = passageBox(data);
    box.dataset.n = button.dataset.n;
    holder.append(box);
  } catch (error) {
    say(error.message);
  }
}

// --- criteria: accept or override with a reason ---------------------------------------------
async function decide(item, body) {
  const name = reviewer();
  if (!name) { say("Type your name in the reviewer field first: every decision is recorded with it."); return; }
  try {
    await call("POST", `/api/sessions/${session()}/criteria/${encodeURIComponent(item.dataset.criterion)}`,
      { ...body, reviewer: name });
    window.location.reload();
  } catch (error) {
    say(error.message);
  }
}

// --- follow-up questions --------------------------------------------------------------------
function renderAnswer(data, n) {
  const turn = document.createElement("div");
  turn.className = "turn";
  const asked = document.createElement("p");
  asked.className = "asked";
  asked.textContent = `${n}. ${data.question}`;
  const list = document.createElement("ul");
  for (const part of data.answer) {
    const item = document.createElement("li");
    item.append(part.text + " ");
    if (part.citations.length) {
      const cites = document.createElement("span");
      cites.className = "cites";
      cites.append("[");
      part.citations.forEach((c, i) => {
        const b = document.createElement("button");
        b.type = "button"; b.className = "cite"; b.dataset.n = c; b.dataset.quote = part.text; b.textContent = c;
        cites.append(b);
        if (i < part.citations.length - 1) cites.append(", ");
      });
      cites.append("]");
      item.append(cites);
    }
    list.append(item);
  }
  turn.append(asked, list);
  return turn;
}

function askForm() {
  const form = $("#ask-form");
  if (!form) return;
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    say("");
    const input = $("#ask-question"), button = form.querySelector("button");
    button.disabled = true;
    button.textContent = "Answering…";
    try {
      const data = await call("POST", `/api/sessions/${session()}/ask`, { question: input.value, reviewer: reviewer() });
      const chat = $("#chat");
      chat.append(renderAnswer(data, chat.querySelectorAll(".turn").length + 1));
      input.value = "";
    } catch (error) {
      say(error.message);
    } finally {
      button.disabled = false;
      button.textContent = "Ask";
    }
  });
}

function draftPage() {
  if (!session()) return;
  document.addEventListener("click", (event) => {
    const cite = event.target.closest("button.cite");
    if (cite) { openCitation(cite); return; }
    const accept = event.target.closest("button.accept");
    if (accept) decide(accept.closest("li.criterion"), { action: "accept" });
  });
  document.addEventListener("submit", (event) => {
    const form = event.target.closest(".override-form");
    if (!form) return;
    event.preventDefault();
    decide(form.closest("li.criterion"), { action: "override", status: form.status.value, reason: form.reason.value });
  });
  for (const link of document.querySelectorAll("a.export")) {
    link.addEventListener("click", () => {
      const url = new URL(link.href);
      url.searchParams.set("reviewer", reviewer());
      link.href = url.toString();
    });
  }
  const signoff = $("#signoff-form");
  signoff?.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!reviewer()) { say("Type your name in the reviewer field to sign off."); return; }
    try {
      await call("POST", `/api/sessions/${session()}/signoff`, { reviewer: reviewer(), note: signoff.note.value });
      window.location.reload();
    } catch (error) {
      say(error.message);
    }
  });
  askForm();
}

document.addEventListener("DOMContentLoaded", () => {
  keepReviewer();
  assessForm();
  draftPage();
});
