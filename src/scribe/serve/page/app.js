// The page of `scribe serve`: a form, the writing drawn as it streams in, downloads, and a pad for your own hand.
"use strict";

const SVG_NS = "http://www.w3.org/2000/svg";
const POINTS_PER_FRAME = 6; // a draft line draws itself at about 360 points a second, like a quick pen
const $ = (id) => document.getElementById(id);

let info = null; // GET /api/info
let sample = null; // the captured handwriting the page writes with, once "Write with my hand" took it
let writing = null; // the AbortController of the writing being streamed, if any
let previews = 0; // bumped when the model changes, so that the previous model's previews stop loading
const drawing = new Set(); // draft lines still being drawn
let animating = false; // whether a frame of drawing is asked for
const finals = new Map(); // page number -> final SVG waiting for its drafts to finish drawing

async function start() {
  const response = await fetch("/api/info").catch(() => null);
  if (!response || !response.ok) {
    say("The scribe server does not answer; start it again with `scribe serve` and reload this page.", true);
    return;
  }
  info = await response.json();
  for (const model of info.models) $("model").append(new Option(model.name, model.name));
  for (const page of info.pages) $("page").append(new Option(page, page));
  $("ink").value = info.defaults.ink.startsWith("#") ? info.defaults.ink : "#1b2a6b";
  $("bias").value = info.defaults.bias;
  $("size").value = info.defaults.line_spacing;
  $("text").maxLength = info.limits.text_chars;
  for (const [input, output, unit] of [["bias", "bias-value", ""], ["size", "size-value", " mm"]]) {
    const show = () => { $(output).textContent = Number($(input).value).toFixed(1).replace(/\.0$/, "") + unit; };
    $(input).addEventListener("input", show);
    show();
  }
  $("model").addEventListener("change", showStyles);
  $("new-seed").addEventListener("click", () => { $("seed").value = Math.floor(Math.random() * 100000); write(); });
  $("write").addEventListener("click", write);
  startPad();
  await showStyles();
}

async function showStyles() {
  const model = $("model").value;
  const count = info.models.find((entry) => entry.name === model).styles;
  const list = $("style-list");
  const chosen = document.querySelector("input[name=style]:checked");
  const keepChoice = chosen !== null && !/^\d+$/.test(chosen.value); // a new hand or your own stays chosen
  const generation = ++previews;
  list.replaceChildren();
  const images = [];
  for (let style = 0; style < count; style++) {
    const label = document.createElement("label");
    const radio = Object.assign(document.createElement("input"), { type: "radio", name: "style", value: String(style) });
    radio.checked = style === 0 && !keepChoice;
    const image = Object.assign(document.createElement("img"), { alt: `style ${style}` });
    label.append(radio, `${style}`, image);
    list.append(label);
    images.push([image, `/api/previews/${encodeURIComponent(model)}/${style}.svg`]);
  }
  for (const [image, url] of images) { // one at a time: the server writes one thing at a time
    if (generation !== previews) return;
    await new Promise((done) => { image.onload = image.onerror = done; image.src = url; });
  }
}

function request() {
  const choice = document.querySelector("input[name=style]:checked").value;
  const body = {
    text: $("text").value, model: $("model").value, page: $("page").value, ink: $("ink").value,
    bias: Number($("bias").value), line_spacing: Number($("size").value), seed: Number($("seed").value) || 0,
    candidates: $("verify").checked ? info.defaults.candidates : 1,
  };
  if (choice === "drawn") body.style_seed = Number($("style-seed").value) || 0;
  else if (choice === "mine") body.sample = sample;
  else body.style = Number(choice);
  return body;
}

function say(message, isError = false) {
  $("status").textContent = message;
  $("status").classList.toggle("error", isError);
}

async function write() {
  if (writing) writing.abort(); // a new writing replaces the one still streaming
  const controller = new AbortController();
  writing = controller;
  $("write").disabled = true;
  $("pages").replaceChildren();
  $("warnings").replaceChildren();
  $("downloads").hidden = true;
  finals.clear();
  drawing.clear();
  say("Writing…");
  try {
    const response = await fetch("/api/write", {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(request()),
      signal: controller.signal,
    });
    if (!response.ok) {
      const problem = await response.json().catch(() => ({ error: response.statusText }));
      say(problem.error, true);
      return;
    }
    await readEvents(response.body.getReader());
  } catch (error) {
    if (error.name !== "AbortError") say(`The server could not be reached: ${error.message}`, true);
  } finally {
    if (writing === controller) {
      writing = null;
      $("write").disabled = false;
    }
  }
}

async function readEvents(reader) {
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += decoder.decode(value, { stream: true });
    let end;
    while ((end = buffer.indexOf("\n")) >= 0) {
      handle(JSON.parse(buffer.slice(0, end)));
      buffer = buffer.slice(end + 1);
    }
  }
}

function handle(event) {
  if (event.event === "pages") {
    for (let page = 0; page < event.count; page++) $("pages").append(blankPage(event.width, event.height));
    if (event.substitutions.length) say(`Writing… (the model cannot write every character: ${event.substitutions.join(", ")})`);
  } else if (event.event === "draft") {
    drawDraft($("pages").children[event.page], event.strokes);
  } else if (event.event === "page") {
    finals.set(event.page, event.svg);
    showFinals();
  } else if (event.event === "done") {
    say(`Written in ${event.seconds} s.`);
    offerDownloads(event.document, event.pages);
    for (const warning of event.warnings) $("warnings").append(Object.assign(document.createElement("li"), { textContent: warning }));
  } else if (event.event === "error") {
    say(event.message, true);
  }
}

function blankPage(width, height) {
  const svg = document.createElementNS(SVG_NS, "svg");
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.setAttribute("class", "page drafting");
  return svg;
}

function drawDraft(page, strokes) {
  const lines = strokes.map(() => {
    const line = document.createElementNS(SVG_NS, "polyline");
    for (const [name, value] of [["fill", "none"], ["stroke", $("ink").value], ["stroke-width", "0.5"],
      ["stroke-linecap", "round"], ["stroke-linejoin", "round"], ["class", "stroke"]]) line.setAttribute(name, value);
    page.append(line);
    return line;
  });
  const job = { strokes, lines, stroke: 0, point: 0, page };
  drawing.add(job);
  if (!animating) {
    animating = true;
    requestAnimationFrame(drawFrame);
  }
}

function drawFrame() { // every draft line advances its pen by a few points a frame, stroke after stroke
  for (const job of drawing) {
    for (let n = 0; n < POINTS_PER_FRAME && job.stroke < job.strokes.length; n++) {
      const stroke = job.strokes[job.stroke];
      job.point += 1;
      job.lines[job.stroke].setAttribute("points", stroke.slice(0, job.point).map((p) => p.join(",")).join(" "));
      if (job.point >= stroke.length) { job.stroke += 1; job.point = 0; }
    }
    if (job.stroke >= job.strokes.length) drawing.delete(job);
  }
  if (drawing.size) {
    requestAnimationFrame(drawFrame);
  } else {
    animating = false;
    showFinals();
  }
}

function showFinals() { // a final page replaces its drafts once they have finished drawing
  for (const [number, text] of finals) {
    const page = $("pages").children[number];
    if ([...drawing].some((job) => job.page === page)) continue;
    const svg = new DOMParser().parseFromString(text, "image/svg+xml").documentElement;
    svg.setAttribute("class", "page final");
    svg.removeAttribute("width");
    svg.removeAttribute("height");
    page.replaceWith(document.importNode(svg, true));
    finals.delete(number);
  }
}

function offerDownloads(documentId, pages) {
  const box = $("downloads");
  box.replaceChildren(Object.assign(document.createElement("span"), { textContent: "Download:" }));
  for (const kind of info.downloads) {
    for (let page = 1; page <= (kind === "pdf" || kind === "gcode" ? 1 : pages); page++) {
      const link = document.createElement("a");
      link.href = `/api/documents/${documentId}/${kind}?page=${page}`;
      link.textContent = pages > 1 && kind !== "pdf" && kind !== "gcode" ? `${kind} ${page}` : kind;
      link.setAttribute("download", "");
      link.className = `download-${kind}`;
      box.append(link);
    }
  }
  box.hidden = false;
}

function startPad() {
  const pad = $("pad");
  const context = pad.getContext("2d");
  let strokes = [];
  let current = null;
  let firstTime = null;
  const add = (event) => {
    const box = pad.getBoundingClientRect();
    const x = ((event.clientX - box.left) * pad.width) / box.width;
    const y = ((event.clientY - box.top) * pad.height) / box.height;
    if (firstTime === null) firstTime = event.timeStamp;
    const last = current.points[current.points.length - 1];
    current.points.push([Math.round(x * 10) / 10, Math.round(y * 10) / 10]);
    current.times.push(Math.round(event.timeStamp - firstTime));
    context.beginPath();
    context.moveTo(...(last || [x, y]));
    context.lineTo(x, y);
    context.stroke();
  };
  context.lineWidth = 2.5;
  context.lineCap = "round";
  pad.addEventListener("pointerdown", (event) => {
    pad.setPointerCapture(event.pointerId);
    current = { points: [], times: [] };
    strokes.push(current);
    add(event);
  });
  pad.addEventListener("pointermove", (event) => {
    if (!current) return;
    const coalesced = event.getCoalescedEvents ? event.getCoalescedEvents() : []; // empty for a scripted event
    for (const each of coalesced.length ? coalesced : [event]) add(each);
  });
  for (const name of ["pointerup", "pointercancel"]) pad.addEventListener(name, () => { current = null; });
  $("clear").addEventListener("click", () => {
    strokes = [];
    firstTime = null;
    context.clearRect(0, 0, pad.width, pad.height);
  });
  $("use-sample").addEventListener("click", () => {
    if (!strokes.length) { say("Write the sentence in the box first.", true); return; }
    sample = { text: $("sample-text").value, strokes: strokes.map((s) => s.points), times_ms: strokes.map((s) => s.times) };
    const link = $("save-sample");
    if (link.href.startsWith("blob:")) URL.revokeObjectURL(link.href);
    link.href = URL.createObjectURL(new Blob([JSON.stringify(sample)], { type: "application/json" }));
    link.hidden = false;
    $("style-mine").disabled = false;
    $("style-mine").checked = true;
    write();
  });
}

document.addEventListener("DOMContentLoaded", start);
