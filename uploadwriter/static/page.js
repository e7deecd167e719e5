// The page of `uploadwriter serve`: pick or drop files, watch them upload, see what is stored.
import { channelURL, serverInfo, upload } from "./uploadwriter.js";

const meta = (name, fallback) =>
  document.querySelector(`meta[name="${name}"]`)?.getAttribute("content") || fallback;
const CHANNEL = channelURL(meta("uploadwriter:channel", "ws"));
const UPLOADS = new URL(meta("uploadwriter:uploads", "uploads"), document.baseURI).href;

const $ = (id) => document.getElementById(id);
const input = $("files");
const queue = $("queue");
const sessions = [];
let rows = 0;

export function humanSize(size) {
  if (size < 1000) return `${size} byte${size === 1 ? "" : "s"}`;
  for (const [unit, scale] of [["kB", 1e3], ["MB", 1e6], ["GB", 1e9]]) {
    const value = Number((size / scale).toPrecision(3));
    if (value < 1000) return `${value} ${unit}`;
  }
  return `${Number((size / 1e12).toPrecision(3))} TB`;
}

function nameParts(name) {
  // The extension stays visible when a long name is cut: "a-very-long-na….pdf".
  const dot = name.lastIndexOf(".");
  if (dot <= 0 || name.length - dot > 12) return [name, ""];
  return [name.slice(0, dot), name.slice(dot)];
}

function nameElement(name) {
  const element = document.createElement("span");
  element.className = "name";
  element.title = name;
  const [stem, ext] = nameParts(name);
  for (const [cls, text] of [["stem", stem], ["ext", ext]]) {
    const part = document.createElement("span");
    part.className = cls;
    part.textContent = text;
    element.append(part);
  }
  return element;
}

// A name too long for its row keeps its extension and loses the middle
// ("Quarterly results for the bo….xlsx"). CSS alone would leave a gap before
// the extension (its ellipsis stops at a whole letter), so it is measured here.
function fitName(element) {
  const stem = element.querySelector(".stem");
  const full = Array.from(stem.dataset.full ?? stem.textContent);
  stem.dataset.full = full.join("");
  stem.textContent = stem.dataset.full;
  const room = stem.clientWidth;
  if (stem.scrollWidth <= room) return;
  let low = 1;
  let high = full.length - 1;
  while (low < high) {
    const middle = (low + high + 1) >> 1;
    stem.textContent = `${full.slice(0, middle).join("")}…`;
    if (stem.scrollWidth <= room) low = middle;
    else high = middle - 1;
  }
  stem.textContent = `${full.slice(0, low).join("")}…`;
}

let fitting = 0;
window.addEventListener("resize", () => {
  cancelAnimationFrame(fitting);
  fitting = requestAnimationFrame(() => document.querySelectorAll(".item .name").forEach(fitName));
});

const STATUS_TEXT = {
  pending: "Waiting",
  accepted: "Waiting",
  cancelling: "Cancelling…",
  done: "Done",
  error: "Failed",
  cancelled: "Cancelled",
};

function row(file) {
  const item = document.createElement("li");
  item.className = "item";
  item.dataset.status = "pending";
  const size = document.createElement("span");
  size.className = "size";
  size.textContent = humanSize(file.size);
  const bar = document.createElement("progress");
  bar.max = 100;
  bar.value = 0;
  bar.setAttribute("aria-label", `Upload of ${file.name}`);
  const pct = document.createElement("span");
  pct.className = "pct";
  const cancel = document.createElement("button");
  cancel.type = "button";
  cancel.textContent = "Cancel";
  // Named "Cancel"; screen readers also hear which file it cancels.
  const nameId = `file-${++rows}`;
  cancel.setAttribute("aria-describedby", nameId);
  const message = document.createElement("p");
  message.className = "message";
  message.setAttribute("role", "status");
  const name = nameElement(file.name);
  name.id = nameId;
  item.append(name, size, bar, pct, cancel, message);
  queue.append(item);
  fitName(name);
  return { item, name, bar, pct, cancel, message };
}

function show(view, entry) {
  const changed = view.item.dataset.status !== entry.status;
  view.item.dataset.status = entry.status;
  view.bar.value = entry.progress;
  view.pct.textContent =
    entry.status === "uploading" ? `${entry.progress}%` : STATUS_TEXT[entry.status] || "";
  view.cancel.disabled = ["done", "error", "cancelled", "cancelling"].includes(entry.status);
  view.message.textContent = entry.status === "error" ? entry.error.message : "";
  if (changed) fitName(view.name); // an ended row is wider (no Cancel)
  summarise();
}

function summarise() {
  const entries = sessions.flatMap((s) => s.entries);
  const count = (status) => entries.filter((e) => e.status === status).length;
  const done = count("done");
  const failed = count("error");
  const cancelled = count("cancelled");
  const open = entries.length - done - failed - cancelled;
  const parts = [`${done} of ${entries.length} done`];
  if (failed) parts.push(`${failed} failed`);
  if (cancelled) parts.push(`${cancelled} cancelled`);
  $("summary").textContent = parts.join(" · ");
  $("current-title").textContent = open ? "Uploading" : "Uploaded";
  // While files upload the button cancels them; once all have ended it clears the list.
  $("cancel-all").textContent = open ? "Cancel all" : "Clear list";
}

function start(files) {
  files = Array.from(files);
  if (files.length === 0) return;
  $("current").hidden = false;
  const views = files.map(row);
  const refresh = (file, _value, entry) => show(views[files.indexOf(file)], entry);
  const session = upload(files, {
    url: CHANNEL,
    onAccepted: (file, entry) => refresh(file, 0, entry),
    onStart: (file, entry) => refresh(file, 0, entry),
    onProgress: refresh,
    onError: refresh,
    onCancel: (file, entry) => refresh(file, 0, entry),
    onDone: (file, result, entry) => {
      refresh(file, 0, entry);
      loadCompleted();
    },
  });
  sessions.push(session);
  views.forEach((view, index) => {
    view.cancel.addEventListener("click", () => {
      session.cancel(index);
      show(view, session.entries[index]);
    });
    show(view, session.entries[index]);
  });
  session.done.then(() => {
    session.entries.forEach((e, i) => show(views[i], e));
    loadCompleted();
  });
}

async function loadCompleted() {
  let files;
  try {
    const response = await fetch(UPLOADS, { headers: { accept: "application/json" } });
    if (!response.ok) return;
    ({ files } = await response.json());
  } catch {
    return;
  }
  const table = $("completed");
  const body = table.tBodies[0];
  body.replaceChildren(
    ...files
      .slice()
      .reverse()
      .map((file) => {
        const tr = document.createElement("tr");
        const name = document.createElement("td");
        const clamp = document.createElement("span");
        clamp.className = "clamp"; // two lines at most; the whole name in the tooltip
        clamp.textContent = file.client_name;
        name.title = file.client_name;
        name.append(clamp);
        const size = document.createElement("td");
        size.className = "num";
        size.textContent = humanSize(file.size);
        const hash = document.createElement("td");
        hash.className = "hash";
        hash.textContent = file.sha256;
        hash.title = file.sha256;
        tr.append(name, size, hash);
        return tr;
      }),
  );
  table.hidden = files.length === 0;
  $("completed-empty").hidden = files.length > 0;
  $("completed-count").textContent = files.length
    ? `${files.length} file${files.length === 1 ? "" : "s"}`
    : "";
}

function describeLimits(info) {
  const parts = [];
  parts.push(info.accept === "any" ? "Any type of file" : `Accepted: ${info.accept.join(", ")}`);
  parts.push(`up to ${humanSize(info.max_file_size)} each`);
  parts.push(`${info.max_entries} file${info.max_entries === 1 ? "" : "s"} at a time`);
  return parts.join(" · ");
}

input.addEventListener("change", () => {
  start(input.files);
  input.value = ""; // choosing the same file again uploads it again
});
$("cancel-all").addEventListener("click", () => {
  const open = sessions.some((s) => s.entries.some((e) => !["done", "error", "cancelled"].includes(e.status)));
  if (open) {
    sessions.forEach((s) => s.cancelAll());
    return;
  }
  sessions.length = 0;
  queue.replaceChildren();
  $("current").hidden = true;
});

// Drop anywhere on the page.
let depth = 0;
const dropping = (on) => {
  $("dropping").hidden = !on;
  $("drop").classList.toggle("over", on);
};
document.addEventListener("dragenter", (event) => {
  if (!event.dataTransfer?.types.includes("Files")) return;
  depth += 1;
  dropping(true);
});
document.addEventListener("dragleave", () => {
  depth = Math.max(0, depth - 1);
  if (depth === 0) dropping(false);
});
document.addEventListener("dragover", (event) => event.preventDefault());
document.addEventListener("drop", (event) => {
  event.preventDefault();
  depth = 0;
  dropping(false);
  if (event.dataTransfer?.files.length) start(event.dataTransfer.files);
});

serverInfo(CHANNEL)
  .then((info) => {
    $("limits").textContent = describeLimits(info);
    if (info.accept !== "any") input.accept = info.accept.join(",");
  })
  .catch(() => {});
loadCompleted();
