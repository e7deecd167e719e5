// uploadwriter.js: the browser client of the uploadwriter upload channel.
//
// One ES module, no dependencies, no build step. It speaks version 1 of the
// channel's protocol (docs/reference/websocket-protocol.md):
//
//   import { upload } from "/static/uploadwriter.js";
//   const session = upload(input.files, {
//     url: "/ws",                              // resolved against the page; http -> ws
//     onProgress: (file, percent) => { ... },  // acknowledged by the server
//     onDone: (file, result) => { ... },       // what the server's consume returned
//     onError: (file, error) => { ... },       // {code, message}: message is in words
//     onCancel: (file) => { ... },
//     onAccepted, onStart: (file, entry) => { ... },  // the server took it; it starts
//     concurrency: 3,                          // files uploading at once
//     signal: controller.signal,               // abort: cancel every file
//   });
//   session.cancel(0);                         // cancel one file (index, File or entry)
//   const entries = await session.done;        // never rejects
//
// Files are announced together; the server accepts or refuses each. Accepted
// files are uploaded `concurrency` at a time, in chunks of the size the server
// gave, with at most `window` chunks unacknowledged over the connection (the
// server's flow control: a slow server slows this client down).

export const PROTOCOL_VERSION = 1;

// What each error code means, for the rare error that comes without a message.
const WORDS = {
  too_large: "The file is too large.",
  not_accepted: "This type of file is not accepted.",
  too_many_files: "Too many files at once.",
  writer_failure: "The server could not store the file.",
  chunk_timeout: "The upload stalled and was stopped.",
  incomplete: "The upload ended before the whole file arrived.",
  malformed: "The browser and the server did not understand each other.",
  server_error: "The server failed.",
  disconnected: "The connection to the server was lost.",
  unreachable: "The upload server could not be reached.",
};

/** Return an error's explanation in words (the server's message, or one for its code). */
export function describeError(error) {
  if (error && typeof error.message === "string" && error.message) return error.message;
  const code = error && error.code;
  return WORDS[code] || `The upload failed (${code || "unknown error"}).`;
}

/** Resolve a channel path against the page and give it a WebSocket scheme. */
export function channelURL(url = "ws", base = globalThis.document?.baseURI) {
  const resolved = new URL(url, base);
  if (resolved.protocol === "http:") resolved.protocol = "ws:";
  if (resolved.protocol === "https:") resolved.protocol = "wss:";
  return resolved.href;
}

/** Start uploading `files` (a FileList or an array of File/Blob); return an UploadSession. */
export function upload(files, options = {}) {
  return new UploadSession(files, options);
}

/**
 * Ask the server what it accepts (its welcome message: chunk_size, window,
 * max_entries, max_file_size, accept, chunk_timeout), on a short connection.
 */
export function serverInfo(url, { WebSocket: WS = globalThis.WebSocket } = {}) {
  return new Promise((resolve, reject) => {
    const ws = new WS(channelURL(url));
    ws.onopen = () => ws.send(JSON.stringify({ type: "hello", versions: [PROTOCOL_VERSION] }));
    ws.onmessage = (event) => {
      const message = JSON.parse(event.data);
      ws.close(1000);
      if (message.type === "welcome") resolve(message);
      else reject(new Error(describeError(message.error)));
    };
    ws.onclose = (event) => reject(new Error(`the upload channel closed (${event.code})`));
  });
}

const FINAL = new Set(["done", "error", "cancelled"]);

export class UploadSession {
  constructor(files, options = {}) {
    const {
      url = "ws",
      onProgress = () => {},
      onDone = () => {},
      onError = () => {},
      onCancel = () => {},
      onAccepted = () => {},
      onStart = () => {},
      signal,
      concurrency = 3,
      WebSocket: WS = globalThis.WebSocket,
    } = options;
    this.callbacks = { onProgress, onDone, onError, onCancel, onAccepted, onStart };
    this.concurrency = Math.max(1, concurrency);
    /** One entry per file: {file, ref, status, progress, size, result, error}. */
    this.entries = Array.from(files, (file, index) => ({
      file,
      ref: `f${index}`,
      status: "pending", // pending, accepted, uploading, cancelling, done, error, cancelled
      progress: 0,
      size: 0, // bytes the server acknowledged
      result: undefined,
      error: undefined,
      offset: 0, // bytes sent
      unacked: 0, // chunks sent and not acknowledged
      chunkSize: 0,
    }));
    this.byRef = new Map(this.entries.map((entry) => [entry.ref, entry]));
    this.credits = 0;
    this.turn = 0; // whose chunk goes next: the files take turns, across pump() calls
    this.pumping = false;
    this.welcomed = false;
    this.opened = false;
    this.connectionError = undefined;
    this.done = new Promise((resolve) => (this.resolveDone = resolve));
    if (signal) {
      if (signal.aborted) queueMicrotask(() => this.cancelAll());
      else signal.addEventListener("abort", () => this.cancelAll(), { once: true });
    }
    if (this.entries.length === 0) {
      this.resolveDone(this.entries);
      return;
    }
    const ws = (this.ws = new WS(channelURL(url)));
    ws.binaryType = "arraybuffer";
    ws.onopen = () => {
      this.opened = true;
      this.send({ type: "hello", versions: [PROTOCOL_VERSION] });
    };
    ws.onmessage = (event) => this.receive(event.data);
    ws.onclose = (event) => this.closed(event);
  }

  /** Cancel one file: its index, its File, or its entry. */
  cancel(which) {
    const entry =
      typeof which === "number"
        ? this.entries[which]
        : this.entries.find((e) => e === which || e.file === which);
    if (!entry || FINAL.has(entry.status) || entry.status === "cancelling") return;
    if (!this.welcomed || this.ws.readyState !== 1) {
      // Not announced yet (or no connection): nothing of it is on the server.
      this.settle(entry, "cancelled");
      return;
    }
    entry.status = "cancelling";
    this.send({ type: "cancel", ref: entry.ref });
  }

  /** Cancel every file that has not ended. */
  cancelAll() {
    for (const entry of this.entries) this.cancel(entry);
  }

  send(message) {
    if (this.ws.readyState === 1) this.ws.send(JSON.stringify(message));
  }

  receive(data) {
    if (typeof data !== "string") return;
    const message = JSON.parse(data);
    const entry = message.ref === undefined ? undefined : this.byRef.get(message.ref);
    switch (message.type) {
      case "welcome":
        return this.welcome(message);
      case "accepted":
        if (!entry || FINAL.has(entry.status)) return;
        entry.chunkSize = message.chunk_size || this.chunkSize;
        if (entry.status === "pending") entry.status = "accepted";
        this.callbacks.onAccepted(entry.file, entry);
        return this.schedule();
      case "refused":
        if (entry) this.settle(entry, "error", message.error);
        return this.schedule();
      case "ack":
        if (!entry || FINAL.has(entry.status)) return;
        entry.unacked -= 1;
        this.credits += 1;
        entry.size = message.size;
        // Cancelling: what the server still acknowledges is not kept, so the bar stays put.
        if (entry.status !== "cancelling" && message.progress > entry.progress) {
          entry.progress = message.progress;
          this.callbacks.onProgress(entry.file, entry.progress, entry);
        }
        return this.pump();
      case "done":
        if (entry) this.settle(entry, "done", undefined, message.result);
        return this.schedule();
      case "cancelled":
        if (entry) this.settle(entry, "cancelled");
        return this.schedule();
      case "error":
        if (entry) {
          this.settle(entry, "error", message.error);
          return this.schedule();
        }
        // The connection's own error: the close that follows ends the rest.
        this.connectionError = message.error;
        return;
      default:
        return; // a newer server's message this version does not know
    }
  }

  welcome(message) {
    this.welcomed = true;
    this.chunkSize = message.chunk_size;
    this.credits = message.window;
    const files = this.entries
      .filter((entry) => entry.status === "pending")
      .map((entry) => ({
        ref: entry.ref,
        name: entry.file.name ?? "blob",
        size: entry.file.size,
        type: entry.file.type || "",
        last_modified: entry.file.lastModified ?? null,
      }));
    // Large selections go in several messages (a text frame has a size limit).
    for (let i = 0; i < files.length; i += 500) {
      this.send({ type: "select", files: files.slice(i, i + 500) });
    }
    this.finishIfDone();
  }

  // Start accepted files, `concurrency` at a time, in the order they were given.
  schedule() {
    let running = this.entries.filter(
      (e) => e.status === "uploading" || (e.status === "cancelling" && e.started),
    ).length;
    for (const entry of this.entries) {
      if (running >= this.concurrency) break;
      if (entry.status !== "accepted") continue;
      entry.status = "uploading";
      entry.started = true;
      this.send({ type: "start", ref: entry.ref });
      running += 1;
      this.callbacks.onStart(entry.file, entry);
    }
    this.pump();
    this.finishIfDone();
  }

  // Send chunks while the window allows, round-robin over the files uploading.
  async pump() {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (this.credits > 0 && this.ws.readyState === 1) {
        const sending = this.entries.filter(
          (e) => e.status === "uploading" && e.offset < e.file.size,
        );
        if (sending.length === 0) break;
        const entry = sending[this.turn++ % sending.length];
        const start = entry.offset;
        const end = Math.min(entry.file.size, start + entry.chunkSize);
        entry.offset = end; // claimed before the read, so no other turn sends it
        this.credits -= 1;
        const bytes = new Uint8Array(await entry.file.slice(start, end).arrayBuffer());
        if (entry.status !== "uploading" || this.ws.readyState !== 1) {
          this.credits += 1; // cancelled or ended while reading: nothing was sent
          continue;
        }
        const frame = new Uint8Array(1 + entry.ref.length + bytes.length);
        frame[0] = entry.ref.length;
        for (let i = 0; i < entry.ref.length; i++) frame[1 + i] = entry.ref.charCodeAt(i);
        frame.set(bytes, 1 + entry.ref.length);
        entry.unacked += 1;
        this.ws.send(frame);
      }
    } finally {
      this.pumping = false;
    }
  }

  settle(entry, status, error, result) {
    if (FINAL.has(entry.status)) return;
    // Its unacknowledged chunks are given back, as the server does.
    this.credits += entry.unacked;
    entry.unacked = 0;
    entry.status = status;
    if (status === "done") {
      entry.result = result;
      if (entry.progress < 100) {
        entry.progress = 100;
        entry.size = entry.file.size;
        this.callbacks.onProgress(entry.file, 100, entry);
      }
      this.callbacks.onDone(entry.file, result, entry);
    } else if (status === "error") {
      entry.error = { code: error?.code || "unknown", message: describeError(error) };
      this.callbacks.onError(entry.file, entry.error, entry);
    } else {
      this.callbacks.onCancel(entry.file, entry);
    }
    this.finishIfDone();
  }

  finishIfDone() {
    if (!this.entries.every((entry) => FINAL.has(entry.status))) return;
    if (this.ws && this.ws.readyState <= 1) this.ws.close(1000);
    this.resolveDone(this.entries);
  }

  closed(event) {
    const error = this.connectionError || {
      code: this.opened ? "disconnected" : "unreachable",
      message: this.opened
        ? `The connection to the server was lost (code ${event.code}).`
        : WORDS.unreachable,
    };
    for (const entry of this.entries) {
      if (entry.status === "cancelling") {
        // Asked for, and the connection is gone: nothing of it is kept either way.
        this.settle(entry, "cancelled");
      } else {
        this.settle(entry, "error", error);
      }
    }
    this.resolveDone(this.entries);
  }
}
