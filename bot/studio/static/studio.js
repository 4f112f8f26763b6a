// The studio page: editor with live validation, player, graph, tests, signposts, publish.
// Plain JavaScript over the JSON API in bot/studio/web.py; no build step.
"use strict";

const $ = (id) => document.getElementById(id);
const state = { csrf: "", mode: "local", path: null, version: null, dirty: false,
                graphNodes: {}, widgets: [], validateTimer: null, validateSeq: 0,
                validating: false, validateAgain: false };

function setStatus(text, kind) {
  const el = $("status");
  el.textContent = text;
  el.className = kind || "";
}

async function call(method, url, body) {
  const options = { method, headers: {} };
  if (method !== "GET") {
    options.headers["X-CSRF-Token"] = state.csrf;
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body || {});
  }
  const response = await fetch(url, options);
  if (response.status === 401) {
    window.location.href = "/login";
    throw new Error("signed out");
  }
  const data = await response.json().catch(() => ({}));
  return { status: response.status, ok: response.ok, data };
}

// -- Editor ------------------------------------------------------------------------------
const editor = CodeMirror.fromTextArea($("editor-area"), {
  mode: "yaml", lineNumbers: true, indentUnit: 2, tabSize: 2, indentWithTabs: false,
  gutters: ["problem-gutter", "CodeMirror-linenumbers"], lineWrapping: true,
  extraKeys: {
    "Ctrl-S": () => save(false), "Cmd-S": () => save(false),
    Tab: (cm) => cm.execCommand("insertSoftTab"),
    // Leave the editor with the keyboard: Esc then Tab moves on, as in a textarea.
    Esc: (cm) => { cm.getInputField().blur(); document.querySelector("[role=tab][aria-selected=true]").focus(); },
  },
  screenReaderLabel: "File text",
});
editor.setOption("readOnly", "nocursor");

editor.on("change", () => {
  if (state.loading) return;
  if (!state.dirty) { state.dirty = true; $("dirty").textContent = "Not saved"; }
  $("save").disabled = false;
  clearTimeout(state.validateTimer);
  state.validateTimer = setTimeout(validateNow, 150);  // debounced: after typing pauses
});

// One check at a time: text typed while one is on its way is checked as soon as it is back
// (only the newest text), so a fast typist never queues requests on the server.
async function validateNow() {
  if (!state.path) return;
  const seq = ++state.validateSeq;
  if (state.validating) { state.validateAgain = true; return; }
  state.validating = true;
  try {
    const { data } = await call("POST", "/api/validate", { path: state.path, text: editor.getValue() });
    if (seq === state.validateSeq && data.problems) showProblems(data);  // else a newer check follows
  } finally {
    state.validating = false;
    if (state.validateAgain) { state.validateAgain = false; validateNow(); }
  }
}

function showProblems(data) {
  editor.operation(() => {
    editor.clearGutter("problem-gutter");
    state.widgets.forEach((w) => w.clear());
    state.widgets = [];
    for (const p of data.problems) {
      if (p.file !== state.path || !p.line) continue;
      const line = Math.min(p.line - 1, editor.lineCount() - 1);
      const marker = document.createElement("span");
      marker.className = "marker-" + p.severity;
      marker.textContent = p.severity === "error" ? "✖" : "▲";
      marker.title = `${p.code} ${p.message}`;
      editor.setGutterMarker(line, "problem-gutter", marker);
      const box = document.createElement("div");
      box.className = "line-problem " + p.severity;
      box.dataset.code = p.code;
      box.dataset.line = String(p.line);
      box.textContent = `${p.code} ${p.severity}: ${p.message}\nhint: ${p.hint}`;
      state.widgets.push(editor.addLineWidget(line, box, { coverGutter: false }));
    }
  });
  const list = $("problems");
  list.textContent = "";
  for (const p of data.problems) {
    const li = document.createElement("li");
    li.className = p.severity;
    const link = document.createElement("button");
    link.type = "button";
    link.className = "problem-link";
    link.textContent = p.text.split("\n")[0];
    link.addEventListener("click", () => openFile(p.file, p.line));
    li.append(link);
    const hint = document.createElement("span");
    hint.className = "hint";
    hint.textContent = "hint: " + p.hint;
    li.append(hint);
    list.append(li);
  }
  $("summary").textContent =
    `${data.errors} error(s), ${data.warnings} warning(s), ${data.nodes} node(s).`;
}

async function openFile(path, line) {
  if (path !== state.path) {
    if (state.dirty && !confirm(`${state.path} has changes that are not saved. Leave them?`)) return;
    const { ok, data } = await call("GET", "/api/file?path=" + encodeURIComponent(path));
    if (!ok) { setStatus(data.error || "Cannot open " + path, "bad"); return; }
    state.loading = true;
    editor.setOption("readOnly", false);
    editor.setValue(data.text);
    editor.clearHistory();
    state.loading = false;
    state.path = data.path;
    state.version = data.version;
    state.dirty = false;
    $("dirty").textContent = "";
    $("save").disabled = true;
    $("editor-title").textContent = data.path;
    document.querySelectorAll("#files button").forEach((b) =>
      b.setAttribute("aria-current", String(b.dataset.path === path)));
    validateNow();
  }
  if (line) {
    editor.setCursor({ line: line - 1, ch: 0 });
    editor.scrollIntoView({ line: line - 1, ch: 0 }, 120);
  }
  editor.focus();
}

async function save(force) {
  if (!state.path) return;
  const body = { path: state.path, text: editor.getValue(), version: state.version, force };
  const { status, data } = await call("PUT", "/api/file", body);
  if (status === 409 && data.conflict) {
    const overwrite = confirm(
      `${state.path} was changed on disk since you opened it (perhaps by someone else).\n\n` +
      "OK: save your version over it.\nCancel: keep the file on disk as it is.");
    if (overwrite) return save(true);
    setStatus("Not saved: the file on disk changed. Copy your text, then reopen the file.", "bad");
    return;
  }
  if (!data.ok) { setStatus(data.error || "Not saved.", "bad"); return; }
  state.version = data.version;
  state.dirty = false;
  $("dirty").textContent = "";
  $("save").disabled = true;
  setStatus(`Saved ${state.path}.`, "good");
  refreshAfterSave();
}

async function newFile() {
  const name = prompt("Name of the new file, e.g. new-topic.yaml or tests/new-topic.yaml");
  if (!name) return;
  const { data } = await call("PUT", "/api/file", { path: name, text: "nodes:\n", create: true });
  if (!data.ok) { setStatus(data.error || "Could not create " + name, "bad"); return; }
  await loadState();
  openFile(name);
}

// -- Files and choices --------------------------------------------------------------------
async function loadState() {
  const { data } = await call("GET", "/api/state");
  state.csrf = data.csrf;
  state.mode = data.mode;
  document.body.classList.toggle("live", data.mode === "live");
  $("who").textContent = `Signed in as ${data.user}` +
    (data.mode === "live" ? " (editing the draft)" : "");
  const files = $("files");
  files.textContent = "";
  for (const path of data.files) {
    const li = document.createElement("li");
    const b = document.createElement("button");
    b.type = "button";
    b.textContent = path;
    b.dataset.path = path;
    b.setAttribute("aria-current", String(path === state.path));
    b.addEventListener("click", () => openFile(path));
    li.append(b);
    files.append(li);
  }
  fillSelect($("play-language"), data.languages, data.default_language);
  fillSelect($("play-region"), data.regions, data.default_region);
  const ids = $("node-ids");
  ids.textContent = "";
  for (const id of data.nodes) {
    const o = document.createElement("option");
    o.value = id;
    ids.append(o);
  }
  return data;
}

function fillSelect(select, values, chosen) {
  const keep = select.value;
  select.textContent = "";
  for (const v of values) {
    const o = document.createElement("option");
    o.value = v;
    o.textContent = v;
    select.append(o);
  }
  select.value = values.includes(keep) ? keep : chosen;
}

function refreshAfterSave() {
  loadState();
  if (!$("panel-graph").hidden) drawGraph();
  if (!$("panel-signposts").hidden) loadSignposts();
}

// -- Player --------------------------------------------------------------------------------
async function play(kind, value, shown) {
  const chat = $("chat");
  if (kind === "start" || kind === "enter") chat.textContent = "";
  if (shown) addMessage({ kind: "you", text: shown });
  const body = { kind, value, language: $("play-language").value, region: $("play-region").value };
  if (state.dirty && state.path) { body.path = state.path; body.text = editor.getValue(); }
  const { data } = await call("POST", "/api/play", body);
  if (data.error) {
    addMessage({ kind: "system", text: data.error +
      (data.problems || []).map((p) => "\n" + p.text.split("\n")[0]).join("") });
    return;
  }
  chat.querySelectorAll(".msg .buttons button").forEach((b) => { b.disabled = true; });
  for (const out of data.outputs) {
    if (out.pause) {
      const p = document.createElement("div");
      p.className = "pause";
      p.textContent = "· · · (a pause) · · ·";
      chat.append(p);
    } else {
      addMessage(out);
    }
  }
  chat.dataset.node = data.node || "";
  chat.scrollTop = chat.scrollHeight;
  const first = chat.querySelector(".msg:last-of-type .buttons button:not([disabled])");
  if (first && kind === "press") first.focus();
}

function addMessage(out) {
  const div = document.createElement("div");
  div.className = "msg " + (out.kind || "message");
  const text = document.createElement("div");
  text.textContent = out.text;
  div.append(text);
  if (out.buttons && out.buttons.length) {
    const row = document.createElement("div");
    row.className = "buttons";
    row.setAttribute("role", "group");
    row.setAttribute("aria-label", "Buttons");
    for (const b of out.buttons) {
      const button = document.createElement("button");
      button.type = "button";
      button.textContent = b.label;
      button.addEventListener("click", () => play("press", b.data, b.label));
      row.append(button);
    }
    div.append(row);
  }
  $("chat").append(div);
}

// -- Graph ---------------------------------------------------------------------------------
mermaid.initialize({ startOnLoad: false, securityLevel: "strict", maxTextSize: 2000000,
                     maxEdges: 20000, flowchart: { htmlLabels: false } });

async function drawGraph() {
  const { data } = await call("GET", "/api/graph");
  state.graphNodes = data.nodes;
  const marks = $("graph-marks");
  marks.textContent = "";
  const mark = (ids, what) => ids.forEach((id) => {
    const li = document.createElement("li");
    const b = document.createElement("button");
    b.type = "button";
    b.className = "problem-link";
    b.textContent = `${id}: ${what}`;
    b.addEventListener("click", () => openNode(id));
    li.append(b);
    marks.append(li);
  });
  mark(data.unreachable, "cannot be reached");
  mark(data.dead_ends, "dead end");
  const box = $("graph");
  if (!data.mermaid) { box.textContent = "Nothing to draw yet."; return; }
  try {
    const { svg } = await mermaid.render("flow" + Date.now(), data.mermaid);
    box.innerHTML = svg;  // mermaid's own sanitised SVG (securityLevel strict)
    const drawn = box.querySelector("svg");
    const viewBox = drawn && drawn.viewBox && drawn.viewBox.baseVal;
    if (viewBox && viewBox.width) {  // full size, scrolled: a shrunken flow is unreadable
      drawn.style.maxWidth = "none";
      drawn.setAttribute("width", String(Math.ceil(viewBox.width)));
      drawn.setAttribute("height", String(Math.ceil(viewBox.height)));
    }
  } catch (err) {
    box.textContent = "The graph could not be drawn: " + err;
    return;
  }
  box.querySelectorAll("g.node").forEach((g) => {
    const match = /(?:^|-)flowchart-(.+)-\d+$/.exec(g.id);
    const id = match && match[1];
    if (!id || !(id in state.graphNodes)) return;
    g.dataset.node = id;
    g.setAttribute("tabindex", "0");
    g.setAttribute("role", "button");
    g.setAttribute("aria-label", "Open node " + id);
    g.addEventListener("click", () => openNode(id));
    g.addEventListener("keydown", (e) => {
      if (e.key === "Enter" || e.key === " ") { e.preventDefault(); openNode(id); }
    });
  });
}

function openNode(id) {
  const where = state.graphNodes[id];
  if (where) openFile(where.file, where.line);
}

// -- Tests ---------------------------------------------------------------------------------
async function runTests() {
  $("tests-summary").textContent = "Running…";
  const { data } = await call("POST", "/api/tests");
  const list = $("tests-results");
  list.textContent = "";
  if (!data.ran) {
    $("tests-summary").textContent = "The dialogue has errors, so the tests cannot run yet.";
  } else {
    $("tests-summary").textContent =
      `${data.passed} passed, ${data.failures.length} failed` +
      (data.problems.length ? `, ${data.problems.length} problem(s) in the test files` : "");
  }
  for (const f of data.failures) {
    const li = document.createElement("li");
    li.className = "error";
    const test = document.createElement("button");
    test.type = "button";
    test.className = "problem-link";
    test.textContent = `${f.file}:${f.line}: FAIL '${f.name}'`;
    test.addEventListener("click", () => openFile(f.file, f.line));
    li.append(test);
    const what = document.createElement("span");
    what.className = "hint";
    what.textContent = f.what;
    li.append(what);
    if (f.node) {
      const node = document.createElement("button");
      node.type = "button";
      node.className = "problem-link";
      node.textContent = `open node ${f.node.id}`;
      node.addEventListener("click", () => openFile(f.node.file, f.node.line));
      li.append(node);
    }
    list.append(li);
  }
  for (const p of data.problems || []) {
    const li = document.createElement("li");
    const b = document.createElement("button");
    b.type = "button";
    b.className = "problem-link";
    b.textContent = p.text.split("\n")[0];
    b.addEventListener("click", () => openFile(p.file, p.line));
    li.append(b);
    list.append(li);
  }
}

// -- Signposts -----------------------------------------------------------------------------
async function loadSignposts() {
  const { data } = await call("GET", "/api/signposts");
  const body = document.querySelector("#signposts tbody");
  body.textContent = "";
  for (const s of data.signposts) {
    const tr = document.createElement("tr");
    if (s.stale) tr.className = "stale";
    const cells = [s.region, null, s.text, s.source, null];
    cells.forEach((value, i) => {
      const td = document.createElement("td");
      if (i === 1) {
        const b = document.createElement("button");
        b.type = "button";
        b.className = "problem-link";
        b.textContent = s.id;
        b.addEventListener("click", () => openFile(s.file, s.line));
        td.append(b);
      } else if (i === 4) {
        td.textContent = s.checked || "never";
        if (s.stale) {
          const label = document.createElement("span");
          label.className = "stale-label";
          label.textContent = " needs checking";
          td.append(label);
        }
      } else {
        td.textContent = value;
      }
      tr.append(td);
    });
    body.append(tr);
  }
}

// -- Publish and versions ---------------------------------------------------------------------
async function publish() {
  if (state.dirty && !confirm("The open file has changes that are not saved; publish without them?")) return;
  selectTab("versions");
  setStatus("Checking the draft (validate --strict and the conversation tests)…");
  const { ok, data } = await call("POST", "/api/publish");
  const box = $("publish-result");
  box.textContent = "";
  const head = document.createElement("p");
  head.textContent = data.message || data.error;
  box.append(head);
  if (!ok) {
    setStatus(data.message || data.error, "bad");
    const list = document.createElement("ul");
    for (const p of data.problems || []) {
      const li = document.createElement("li");
      li.textContent = p.text.split("\n")[0];
      list.append(li);
    }
    for (const f of (data.tests && data.tests.failures) || []) {
      const li = document.createElement("li");
      li.textContent = f.text.replace("\n", " ");
      list.append(li);
    }
    box.append(list);
  } else {
    setStatus(data.message, "good");
  }
  loadVersions();
}

async function loadVersions() {
  const { ok, data } = await call("GET", "/api/versions");
  if (!ok) return;
  const list = $("versions");
  list.textContent = "";
  data.versions.forEach((v, i) => {
    const li = document.createElement("li");
    li.textContent = `${v.short}, ${v.when}, ${v.who}: ${v.what} `;
    if (i > 0) {
      const b = document.createElement("button");
      b.type = "button";
      b.textContent = "Roll back to this";
      b.setAttribute("aria-label", `Roll back to version ${v.short}`);
      b.addEventListener("click", () => rollback(v));
      li.append(b);
    } else {
      const s = document.createElement("strong");
      s.textContent = "(live now)";
      li.append(s);
    }
    list.append(li);
  });
}

async function rollback(v) {
  if (!confirm(`Put version ${v.short} (${v.when}) live again? The draft will be replaced too.`)) return;
  const { ok, data } = await call("POST", "/api/rollback", { version: v.id });
  setStatus(data.message || data.error, ok ? "good" : "bad");
  if (ok && state.path) {
    const path = state.path;
    state.path = null;
    state.dirty = false;
    openFile(path);
  }
  loadVersions();
}

// -- Tabs (arrow keys move between them, as the ARIA pattern says) ----------------------------
const tabs = ["play", "graph", "tests", "signposts", "versions"];
function selectTab(name) {
  for (const t of tabs) {
    const on = t === name;
    $("tab-" + t).setAttribute("aria-selected", String(on));
    $("tab-" + t).tabIndex = on ? 0 : -1;
    $("panel-" + t).hidden = !on;
  }
  if (name === "graph") drawGraph();
  if (name === "signposts") loadSignposts();
  if (name === "versions") loadVersions();
}
tabs.forEach((t, i) => {
  $("tab-" + t).addEventListener("click", () => selectTab(t));
  $("tab-" + t).addEventListener("keydown", (e) => {
    const visible = tabs.filter((x) => state.mode === "live" || x !== "versions");
    const at = visible.indexOf(t);
    let next = null;
    if (e.key === "ArrowRight") next = visible[(at + 1) % visible.length];
    if (e.key === "ArrowLeft") next = visible[(at - 1 + visible.length) % visible.length];
    if (next) { e.preventDefault(); selectTab(next); $("tab-" + next).focus(); }
  });
});

// -- Wiring -----------------------------------------------------------------------------------
$("save").addEventListener("click", () => save(false));
$("new-file").addEventListener("click", newFile);
$("publish").addEventListener("click", publish);
$("logout").addEventListener("click", async () => {
  await call("POST", "/api/logout");
  window.location.href = "/login";
});
$("play-restart").addEventListener("click", () => play("start"));
$("play-jump").addEventListener("click", () => play("enter", $("play-node").value.trim()));
$("play-language").addEventListener("change", () => play("command", "/language " + $("play-language").value));
$("play-region").addEventListener("change", () => setStatus(`Region ${$("play-region").value}: signposts for it show from the next message.`));
$("say-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const text = $("say").value;
  if (!text.trim()) return;
  $("say").value = "";
  play(text.startsWith("/") ? "command" : "say", text, text);
});
$("graph-refresh").addEventListener("click", drawGraph);
$("tests-run").addEventListener("click", runTests);
window.addEventListener("beforeunload", (e) => { if (state.dirty) e.preventDefault(); });

loadState().then((data) => {
  setStatus(`Ready. ${data.files.length} files in the dialogue folder.`);
  const first = data.files.includes("main.yaml") ? "main.yaml" : data.files[0];
  if (first) openFile(first);
  play("start");
});
