// A node program written for live fal and left unmodified: it configures @fal-ai/client itself
// (credentials, no proxyUrl), uploads its start frame, subscribes with logs and downloads the
// video with plain fetch. Only `ray2-mock env`'s exports may route it (test_env_routing.py).
import { fal } from "@fal-ai/client";

fal.config({ credentials: process.env.FAL_KEY });

// A 1x1 PNG, the start frame.
const png = Buffer.from(
  "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==",
  "base64",
);
const imageUrl = await fal.storage.upload(new Blob([png], { type: "image/png" }));
const updates = [];
const result = await fal.subscribe("fal-ai/luma-dream-machine/ray-2/image-to-video", {
  input: { prompt: "the fox turns its head", image_url: imageUrl },
  logs: true,
  onQueueUpdate: (update) => updates.push(update),
});
const video = await fetch(result.data.video.url);
const uploaded = await fetch(imageUrl);

console.log(
  JSON.stringify({
    imageUrl,
    uploadedSame: Buffer.from(await uploaded.arrayBuffer()).equals(png),
    requestId: result.requestId,
    video: result.data.video,
    statuses: updates.map((update) => update.status),
    logs: updates.flatMap((update) => (update.logs ?? []).map((line) => line.message)),
    download: {
      status: video.status,
      type: video.headers.get("content-type"),
      bytes: (await video.arrayBuffer()).byteLength,
    },
  }),
);
