// Drives the official, unmodified @fal-ai/client for the ray2-mock contract suite.
//
// stdin:  {"endpoint", "arguments", "queue_url", "run_url", "key", "mode": "queue" | "run"}
// stdout: {"output": <the data the client returned>, "request_id": ...}
//      or {"error": {"message", "status", "detail", "name"}} (exit code 1)
// env:    NODE_PATH must reach a node_modules with @fal-ai/client;
//         RAY2_JS_MODE=polling (default) | streaming picks how subscribe follows the status.
//
// The client is pointed at the target with its own requestMiddleware hook, which rewrites
// fal's hard-coded https://queue.fal.run/ and https://fal.run/ bases (no proxy route needed).
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

const print = (value) => process.stdout.write(JSON.stringify(value) + "\n");

const call = JSON.parse(readFileSync(0, "utf8"));
let fal;
try {
  fal = createRequire(import.meta.url)("@fal-ai/client");
} catch (error) {
  print({ error: { message: `cannot load @fal-ai/client (set NODE_PATH): ${error.message}` } });
  process.exit(3);
}

const bases = [
  ["https://queue.fal.run/", call.queue_url],
  ["https://fal.run/", call.run_url],
];
const rewrite = (url) => {
  for (const [prefix, base] of bases) {
    if (url.startsWith(prefix)) return base.replace(/\/+$/, "") + "/" + url.slice(prefix.length);
  }
  return url;
};

const client = fal.createFalClient({
  credentials: call.key,
  requestMiddleware: async (request) => ({ ...request, url: rewrite(request.url) }),
});

try {
  const result =
    call.mode === "run"
      ? await client.run(call.endpoint, { input: call.arguments })
      : await client.subscribe(call.endpoint, {
          input: call.arguments,
          logs: true,
          mode: process.env.RAY2_JS_MODE === "streaming" ? "streaming" : "polling",
        });
  print({ output: result.data, request_id: result.requestId });
} catch (error) {
  print({
    error: {
      name: error?.name ?? null,
      message: String(error?.message ?? error),
      status: typeof error?.status === "number" ? error.status : null,
      detail: error?.body?.detail ?? null,
    },
  });
  process.exitCode = 1;
}
