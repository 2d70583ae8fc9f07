// A node program that calls fal with raw fetch, as fal's HTTP docs show, and knows nothing but
// fal's URLs: queue submit, status polling (a Request object), result, sync run, the video by
// fetch and by node:https. Only `ray2-mock env`'s exports may route it (test_env_routing.py).
import { get } from "node:https";

const APP = "fal-ai/luma-dream-machine/ray-2";
const auth = { Authorization: `Key ${process.env.FAL_KEY}` };
const json = { ...auth, "Content-Type": "application/json" };
const input = JSON.stringify({ prompt: "a red fox in fresh snow", aspect_ratio: "9:16" });

const submitted = await fetch(`https://queue.fal.run/${APP}`, { method: "POST", headers: json, body: input });
const queued = await submitted.json();
const statuses = [];
for (let i = 0; i < 200; i++) {
  const status = await (await fetch(new Request(`${queued.status_url}?logs=1`, { headers: auth }))).json();
  statuses.push(status.status);
  if (status.status === "COMPLETED") break;
  await new Promise((resolve) => setTimeout(resolve, 50));
}
const result = await (await fetch(queued.response_url, { headers: auth })).json();
const ran = await (await fetch(`https://fal.run/${APP}`, { method: "POST", headers: json, body: input })).json();
const video = await fetch(result.video.url);

function httpsGet(url) {
  return new Promise((resolve, reject) => {
    get(url, (response) => {
      let bytes = 0;
      response.on("data", (chunk) => (bytes += chunk.length));
      response.on("end", () => resolve({ status: response.statusCode, bytes }));
    }).on("error", reject);
  });
}

// A host that only looks like fal's must be left alone: node resolves it (and fails).
let lookalike;
try {
  await fetch("https://queue.fal.run.invalid/");
  lookalike = "answered";
} catch (error) {
  lookalike = error.cause?.code ?? String(error);
}

console.log(
  JSON.stringify({
    submitStatus: submitted.status,
    queued,
    statuses,
    result,
    ran,
    download: { status: video.status, url: video.url, bytes: (await video.arrayBuffer()).byteLength },
    https: await httpsGet(result.video.url),
    lookalike,
  }),
);
