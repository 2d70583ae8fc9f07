// A two-model pipeline written for live fal and left unmodified: an image model makes the
// first frame, Ray 2 image-to-video animates it, the video is downloaded. Only `ray2-mock env`'s
// exports may route it (tests/integration/test_pipeline.py).
import { fal } from "@fal-ai/client";

fal.config({ credentials: process.env.FAL_KEY });

const frame = await fal.subscribe("fal-ai/flux/dev", {
  input: { prompt: "a red fox in fresh snow", image_size: "landscape_16_9" },
});
const imageUrl = frame.data.images[0].url;
const clip = await fal.subscribe("fal-ai/luma-dream-machine/ray-2/image-to-video", {
  input: { prompt: "the fox runs off", image_url: imageUrl },
});
const video = await fetch(clip.data.video.url);
const bytes = Buffer.from(await video.arrayBuffer());
console.log(
  JSON.stringify({
    image: frame.data.images[0],
    video: clip.data.video,
    requestIds: [frame.requestId, clip.requestId],
    download: { status: video.status, type: video.headers.get("content-type"), bytes: bytes.length },
  }),
);
