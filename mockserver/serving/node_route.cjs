"use strict";
// ray2-mock's zero-change route for node: `ray2-mock env` preloads this file through
// NODE_OPTIONS=--require=... so a node program that never heard of the emulator (its own
// fal.config, no proxyUrl, raw fetch to queue.fal.run) reaches it anyway. node's fetch ignores
// HTTPS_PROXY, so the CONNECT proxy that routes Python cannot help here.
//
// Requests to fal's hosts connect to the emulator's TLS listener (RAY2_MOCK_TLS_URL) instead of
// the internet; the URL, the Host header and the TLS server name stay fal's, so the emulator
// tells queue from run from CDN exactly as through the proxy, and its answers carry fal's URLs.
// Every other host is left alone. The emulator's certificate is trusted through
// NODE_EXTRA_CA_CERTS, which `ray2-mock env` sets as well.
//
// Two ways out of a node process are covered: the global fetch (undici: what @fal-ai/client and
// most code use), through a per-request undici dispatcher, and node:https request/get (what
// node-fetch and older HTTP libraries build on). Pure CommonJS with no dependency, preloaded with --require: that works on
// every node >= 18 and runs before an ES module entry point too, whereas node < 18.18 refuses
// to start with --import in NODE_OPTIONS. Measured on node 18.20, 20.20, 22.23 and 24.22; on
// 18.0, whose fetch ignores dispatchers, fetch to fal's hosts fails with a message instead of
// reaching fal.

const FAL_HOSTS = new Set([
  // Exactly the keys of HOST_ROLES in mockserver/fal/hosts.py (tests/unit/test_node_route.py).
  "fal.run",
  "falrun.com",
  "queue.fal.run",
  "queue.falrun.com",
  "rest.fal.ai",
  "rest.alpha.fal.ai",
  "v3.fal.media",
  "v3b.fal.media",
  "fal.media",
  "v2.fal.media",
  "fal.ai",
]);
const INSTALLED = Symbol.for("ray2-mock.node-route");
// Where node's fetch keeps its default dispatcher (undici's documented global-dispatcher slot).
const GLOBAL_DISPATCHER = Symbol.for("undici.globalDispatcher.1");

/** fal's host name if `url` is https on the default port of one of fal's hosts, else null. */
function falHost(url) {
  let parsed;
  try {
    parsed = url instanceof URL ? url : new URL(String(url));
  } catch {
    return null;
  }
  const onDefaultPort = parsed.port === "" || parsed.port === "443";
  const ok = parsed.protocol === "https:" && onDefaultPort && FAL_HOSTS.has(parsed.hostname);
  return ok ? parsed.hostname : null;
}

/** undici's header forms (object, flat array, iterable of pairs) with Host set to `host`. */
function withHost(headers, host) {
  const isHost = (name) => String(name).toLowerCase() === "host";
  if (headers == null) return { host };
  if (Array.isArray(headers) && headers.length > 0 && !Array.isArray(headers[0])) {
    const flat = [];
    for (let i = 0; i < headers.length; i += 2) {
      if (!isHost(headers[i])) flat.push(headers[i], headers[i + 1]);
    }
    return [...flat, "host", host];
  }
  if (typeof headers[Symbol.iterator] === "function") {
    return [...[...headers].filter(([name]) => !isHost(name)), ["host", host]];
  }
  const copy = {};
  for (const [name, value] of Object.entries(headers)) if (!isHost(name)) copy[name] = value;
  return { ...copy, host };
}

/** A dispatcher that sends fal's origins to the emulator and everything else to `explicit`
 * (the request's own dispatcher) or node's global one, unchanged. Per request, so redirects
 * fetch follows are judged one by one. */
function routingDispatcher(target, explicit) {
  const base = () => {
    const dispatcher = explicit ?? globalThis[GLOBAL_DISPATCHER];
    if (!dispatcher) throw new Error("ray2-mock node route: node's fetch has no dispatcher");
    return dispatcher;
  };
  return {
    dispatch(opts, handler) {
      const host = falHost(opts.origin);
      if (host === null) return base().dispatch(opts, handler);
      const routed = { ...opts, origin: target, headers: withHost(opts.headers, host) };
      return base().dispatch(routed, handler);
    },
    close(...args) {
      return explicit ? explicit.close(...args) : Promise.resolve();
    },
    destroy(...args) {
      return explicit ? explicit.destroy(...args) : Promise.resolve();
    },
  };
}

/** Whether this node's fetch uses a per-request dispatcher (node 18.0's does not: it would send
 * fal's hosts to the internet). Probed once, against the emulator: if the dispatcher is ignored
 * the probe reaches the emulator, never fal. */
function dispatcherHonoured(original, target) {
  const probe = new Error("ray2-mock dispatcher probe");
  const dispatcher = {
    dispatch() {
      throw probe;
    },
  };
  return original(`${target}/_mock/node-route-probe`, { dispatcher }).then(
    () => false,
    (error) => error?.cause === probe || error === probe,
  );
}

function patchFetch(target) {
  const original = globalThis.fetch;
  if (typeof original !== "function") return; // node 18 with --no-experimental-fetch
  let honoured = null;
  async function routed(self, input, init) {
    honoured ??= dispatcherHonoured(original, target);
    if (!(await honoured)) {
      const why = `node ${process.version}'s fetch ignores undici dispatchers`;
      throw new TypeError(`ray2-mock: ${why}; fal's hosts are not reachable (use node >= 18.20)`);
    }
    const dispatcher = routingDispatcher(target, init?.dispatcher);
    return original.call(self, input, { ...init, dispatcher });
  }
  function fetch(input, init) {
    const url = input !== null && typeof input === "object" && "url" in input ? input.url : input;
    return falHost(url) === null ? original.call(this, input, init) : routed(this, input, init);
  }
  Object.defineProperty(globalThis, "fetch", {
    value: fetch,
    writable: true,
    configurable: true,
    enumerable: Object.getOwnPropertyDescriptor(globalThis, "fetch")?.enumerable ?? true,
  });
}

/** node:https arguments (url?, options?, callback?) rewritten for a fal host, else as given. */
function routedHttpsArgs(args, target) {
  const { urlToHttpOptions } = require("node:url");
  const [first, ...rest] = args;
  let options;
  if (typeof first === "string" || first instanceof URL) {
    let url;
    try {
      url = new URL(first);
    } catch {
      return args; // node raises its own error for it
    }
    const extra = rest[0] !== null && typeof rest[0] === "object" ? rest.shift() : {};
    options = { ...urlToHttpOptions(url), ...extra };
  } else if (first !== null && typeof first === "object") {
    options = { ...first };
  } else {
    return args;
  }
  const hostname = options.hostname ?? options.host ?? "localhost";
  const port = options.port ?? 443;
  const host = String(port) === "443" ? falHost(`https://${hostname}`) : null;
  if (host === null || (options.protocol ?? "https:") !== "https:") return args;
  const routed = {
    ...options,
    protocol: "https:",
    hostname: target.hostname.replace(/^\[|\]$/g, ""),
    host: undefined,
    port: Number(target.port || 443),
    servername: host,
    headers: withHost(options.headers, host),
  };
  return [routed, ...rest];
}

function patchHttps(target) {
  const https = require("node:https");
  const original = https.request;
  https.request = function request(...args) {
    return original.apply(this, routedHttpsArgs(args, target));
  };
  https.get = function get(...args) {
    const req = https.request(...args);
    req.end();
    return req;
  };
  require("node:module").syncBuiltinESMExports(); // `import { get } from "node:https"` too
}

/** With NODE_USE_ENV_PROXY=1 node itself sends fetch and https through HTTPS_PROXY (measured
 * on 22.23 and 24.22), and the CONNECT proxy refuses the emulator's own address: list that
 * address in NO_PROXY (node reads it when it builds its agents, after this preload). Only the
 * address: a child process that inherits it still sends fal's hosts through the proxy. */
function bypassProxies(target) {
  const names = ["HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"];
  if (!names.some((name) => process.env[name])) return;
  const entries = new Set();
  for (const name of ["NO_PROXY", "no_proxy"]) {
    for (const entry of (process.env[name] ?? "").split(/[\s,]+/)) if (entry) entries.add(entry);
  }
  entries.add(target.host);
  process.env.NO_PROXY = process.env.no_proxy = [...entries].join(",");
}

function install() {
  if (globalThis[INSTALLED]) return; // preloaded twice: NODE_OPTIONS set by two evals
  const raw = process.env.RAY2_MOCK_TLS_URL;
  if (!raw) return; // routing switched off: unset RAY2_MOCK_TLS_URL reaches fal for real
  let target;
  try {
    target = new URL(raw);
  } catch {
    target = null;
  }
  if (target === null || target.protocol !== "https:") {
    process.emitWarning(`RAY2_MOCK_TLS_URL=${raw} is not an https URL: fal's hosts are not routed`);
    return;
  }
  globalThis[INSTALLED] = { target: target.origin, hosts: [...FAL_HOSTS] };
  bypassProxies(target);
  patchFetch(target.origin);
  patchHttps(target);
}

install();
