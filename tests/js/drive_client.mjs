// Drives the real, unmodified @fal-ai/client against the emulator and prints what it saw as JSON.
// Usage: node drive_client.mjs <route> <scenario>...
// <route> is a proxy URL (fal's server-proxy convention, proxyUrl) or "rewrite:<emulator url>"
// (requestMiddleware rewriting fal's URLs to the emulator's plain layout). The scenarios run
// concurrently, as an app's would; the output maps each to {ok: what it saw} or {error: why}.
import { fal } from "@fal-ai/client";

const T2V = "fal-ai/luma-dream-machine/ray-2";
const I2V = "fal-ai/luma-dream-machine/ray-2/image-to-video";
// One parameter set for every scenario: the emulator renders one video and reuses it.
const INPUT = { prompt: "a red fox in fresh snow", aspect_ratio: "9:16" };
const [route, ...names] = process.argv.slice(2);

// fal's hosts -> the emulator's plain layout: queue, storage and CDN at the root, run under /run.
function rewriter(base) {
  const prefixes = { "fal.run": "/run", "queue.fal.run": "", "rest.fal.ai": "", "v3.fal.media": "" };
  return async (request) => {
    const url = new URL(request.url);
    const prefix = prefixes[url.hostname];
    if (prefix === undefined) return request;
    return { ...request, url: `${base}${prefix}${url.pathname}${url.search}` };
  };
}

fal.config({
  credentials: process.env.FAL_KEY ?? "js-test-id:js-test-secret",
  ...(route.startsWith("rewrite:")
    ? { requestMiddleware: rewriter(route.slice("rewrite:".length)) }
    : { proxyUrl: { url: route, when: "always" } }),
});

async function fetchVideo(url) {
  const response = await fetch(url);
  const bytes = (await response.arrayBuffer()).byteLength;
  return { status: response.status, type: response.headers.get("content-type"), bytes };
}

const scenarios = {
  async subscribe() {
    const updates = [];
    const result = await fal.subscribe(T2V, {
      input: INPUT,
      logs: true,
      pollInterval: 50,
      onQueueUpdate: (update) => updates.push({ status: update.status, logs: update.logs ?? [] }),
    });
    return {
      requestId: result.requestId,
      video: result.data.video,
      fetched: await fetchVideo(result.data.video.url),
      statuses: updates.map((u) => u.status),
      messages: updates.flatMap((u) => u.logs.map((line) => line.message)),
    };
  },

  async queue() {
    const { request_id: requestId } = await fal.queue.submit(T2V, { input: INPUT });
    const statuses = [];
    for (let i = 0; i < 400; i++) {
      const status = await fal.queue.status(T2V, { requestId, logs: true });
      statuses.push(status.status);
      if (status.status === "COMPLETED") break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const result = await fal.queue.result(T2V, { requestId });
    return { requestId, statuses, resultRequestId: result.requestId, video: result.data.video };
  },

  async stream() {
    const { request_id: requestId } = await fal.queue.submit(T2V, { input: INPUT });
    const stream = await fal.queue.streamStatus(T2V, { requestId, logs: true });
    const events = [];
    stream.on("data", (event) => events.push(event.status));
    const done = await stream.done();
    return { requestId, events, done: done.status };
  },

  async upload() {
    // A 1x1 PNG: the emulator must hand back an upload URL the client can PUT to directly.
    const png = Buffer.from(
      "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==",
      "base64",
    );
    const url = await fal.storage.upload(new Blob([png], { type: "image/png" }));
    const fetched = await fetch(url);
    const back = Buffer.from(await fetched.arrayBuffer());
    const result = await fal.subscribe(I2V, { input: { prompt: "from upload", image_url: url } });
    return { url, sameBytes: back.equals(png), video: result.data.video };
  },

  // expiresIn: 0 is passed through as expiration_duration_seconds: 0, which fal reads as
  // "never expires"; the test advances the emulator's clock and fetches the file again.
  async keep() {
    const url = await fal.storage.upload(new Blob(["kept"], { type: "text/plain" }), {
      lifecycle: { expiresIn: 0 },
    });
    return { url };
  },

  // Over 90 MiB the client goes multipart: initiate-multipart, then 10 MiB parts PUT to
  // upload_url + "/<n>" and a completion, each keeping upload_url's query.
  async large() {
    const bytes = new Uint8Array(91 * 1024 * 1024);
    for (let i = 0; i < bytes.length; i += 4096) bytes[i] = (i / 4096) % 251;
    const url = await fal.storage.upload(new Blob([bytes], { type: "video/mp4" }));
    const back = new Uint8Array(await (await fetch(url)).arrayBuffer());
    return { url, same: Buffer.from(back).equals(Buffer.from(bytes)) };
  },

  async run() {
    const result = await fal.run(T2V, { input: INPUT });
    return { requestId: result.requestId, video: result.data.video };
  },

  // The whole family (FAMILY: a JSON list of {endpoint, input}; "$VIDEO" in an input is the
  // clip below): a text-to-video clip is generated, fetched and uploaded with fal.storage, then
  // every endpoint runs through subscribe, the queue (submit, status, result) and sync run.
  async family() {
    const calls = JSON.parse(process.env.FAMILY ?? "[]");
    const source = await fal.subscribe(T2V, {
      input: { prompt: "family source clip", aspect_ratio: "16:9" },
      pollInterval: 50,
    });
    const bytes = await (await fetch(source.data.video.url)).arrayBuffer();
    const uploaded = await fal.storage.upload(new Blob([bytes], { type: "video/mp4" }));
    const results = {};
    for (const { endpoint, input: template } of calls) {
      const input = JSON.parse(JSON.stringify(template).replaceAll('"$VIDEO"', JSON.stringify(uploaded)));
      const subscribed = await fal.subscribe(endpoint, { input, logs: true, pollInterval: 50 });
      const { request_id: requestId } = await fal.queue.submit(endpoint, { input });
      const final = await fal.queue.subscribeToStatus(endpoint, { requestId, pollInterval: 50 });
      const queued = await fal.queue.result(endpoint, { requestId });
      const ran = await fal.run(endpoint, { input });
      results[endpoint] = {
        input,
        finalStatus: final.status,
        subscribe: subscribed.data.video,
        queue: queued.data.video,
        run: ran.data.video,
        requestIds: [subscribed.requestId, queued.requestId, ran.requestId],
      };
    }
    return { source: source.data.video.url, uploaded, results };
  },

  // An image on the user's own bucket, offline: fal would fetch it; the emulator draws its
  // deterministic placeholder frame and the request completes.
  async foreign() {
    const input = { ...INPUT, image_url: "https://my-bucket.example.com/users/7/start.png" };
    const result = await fal.subscribe(I2V, { input, pollInterval: 50 });
    return { video: result.data.video, fetched: await fetchVideo(result.data.video.url) };
  },

  // Invalid input, as live fal treats it: the queue accepts it (a request id to log), the
  // request completes, and the 422 comes from the result; sync run answers it at once.
  async invalid() {
    const input = { ...INPUT, duration: "7s" };
    const caught = async (call) => {
      try {
        await call();
        return { raised: false };
      } catch (error) {
        return { raised: true, name: error.name, status: error.status, body: error.body };
      }
    };
    const submitted = await fal.queue.submit(T2V, { input });
    const requestId = submitted.request_id;
    const final = await fal.queue.subscribeToStatus(T2V, { requestId, pollInterval: 50 });
    return {
      requestId,
      finalStatus: final.status,
      result: await caught(() => fal.queue.result(T2V, { requestId })),
      subscribe: await caught(() => fal.subscribe(T2V, { input, pollInterval: 50 })),
      run: await caught(() => fal.run(T2V, { input })),
    };
  },
};

async function outcome(name) {
  try {
    return [name, { ok: await scenarios[name]() }];
  } catch (error) {
    const body = error?.body ? ` ${JSON.stringify(error.body)}` : "";
    // fetch hides why it failed (TLS, refused, ...) in error.cause.
    const cause = error?.cause ? ` cause: ${error.cause.code ?? ""} ${error.cause.message}` : "";
    return [name, { error: `${error?.stack ?? error}${body}${cause}` }];
  }
}

console.log(JSON.stringify(Object.fromEntries(await Promise.all(names.map(outcome)))));
