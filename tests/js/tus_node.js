// tus-js-client under Node against uploadwriter serve: upload a file, abort it
// part way (pause), resume it from the server's offset, finish. Prints one JSON
// line: {"url", "pausedAt", "resumedFrom", "size"}.
// Usage: node tus_node.js ENDPOINT FILE CHUNK_SIZE
"use strict";
const fs = require("fs");
const tus = require("tus-js-client");

const [endpoint, path, chunkText] = process.argv.slice(2);
const chunkSize = Number(chunkText);
const size = fs.statSync(path).size;

function start(options) {
  return new Promise((resolve, reject) => {
    const upload = new tus.Upload(fs.createReadStream(path), {
      endpoint,
      chunkSize,
      uploadSize: size,
      retryDelays: [0, 200, 500],
      metadata: { filename: "node-upload.bin", filetype: "application/octet-stream" },
      ...options,
      onError: reject,
      onSuccess: () => resolve(upload),
    });
    options.onStart?.(upload);
    upload.start();
  });
}

(async () => {
  // First: upload until past the first chunk, then abort (a pause).
  let pausedAt = 0;
  let url = null;
  await new Promise((resolve, reject) => {
    const upload = new tus.Upload(fs.createReadStream(path), {
      endpoint,
      chunkSize,
      uploadSize: size,
      metadata: { filename: "node-upload.bin", filetype: "application/octet-stream" },
      onError: reject,
      onChunkComplete: (chunk, accepted) => {
        if (accepted >= chunkSize && pausedAt === 0) {
          pausedAt = accepted;
          url = upload.url;
          upload.abort().then(resolve, reject);
        }
      },
      onSuccess: () => reject(new Error("finished before it could be paused")),
    });
    upload.start();
  });
  // Then: a new Upload resumes at that URL (tus-js-client asks HEAD for the offset).
  let resumedFrom = null;
  await start({
    uploadUrl: url,
    onProgress: (sent) => {
      if (resumedFrom === null) resumedFrom = sent;
    },
  });
  console.log(JSON.stringify({ url, pausedAt, resumedFrom, size }));
})().catch((error) => {
  console.error(String(error));
  process.exit(1);
});
