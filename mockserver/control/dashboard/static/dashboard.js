// ray2-mock dashboard: plain browser JavaScript, no build step, no third-party code.
// Reads /_mock/ui/* (view models of the emulator's state), submits through the real queue API,
// and drives the /_mock control API (scenarios, journal, reset) when the emulator has it.
"use strict";

const API = {
  requests: "/_mock/ui/requests",
  events: "/_mock/ui/events",
  schemas: "/_mock/schemas",
  templates: "/_mock/ui/static/scenario-templates.json",
  scenarios: "/_mock/scenarios",
  journal: "/_mock/journal",
  reset: "/_mock/reset",
};
const FEED_LIMIT = 50;
const ENDPOINT_LABELS = { "text-to-video": "text → video", "image-to-video": "image → video" };
const KEY_STORAGE = "ray2-mock.dashboard.key";
const EVENT_END = /\r?\n\r?\n/; // SSE events end with a blank line; servers use \n or \r\n

const state = {
  rows: [],
  serverNow: 0,
  receivedAt: 0,
  selected: null,
  detail: null,
  endpoints: [],
  schemas: new Map(),
  follow: null, // AbortController of the followed status stream
  journalAvailable: true,
  scenariosAvailable: true,
};

// -- small helpers ----------------------------------------------------------------------------

const $ = (id) => document.getElementById(id);

/** Build an element; children are nodes or text (never parsed as HTML). */
function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "dataset") Object.assign(node.dataset, value);
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else if (name === "className") node.className = value;
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function seconds(value) {
  if (value === null || value === undefined) return "–";
  return value < 60 ? `${value.toFixed(1)} s` : `${Math.floor(value / 60)} min ${Math.round(value % 60)} s`;
}

function json(value) {
  return JSON.stringify(value, null, 2);
}

function shortEndpoint(row) {
  return row.label || ENDPOINT_LABELS[row.kind] || row.endpoint_id;
}

function paramsText(params) {
  const parts = [params.aspect_ratio, params.resolution, params.duration, params.mode];
  if (params.loop) parts.push("loop");
  return parts.filter(Boolean).join(" · ");
}

function statusLabel(row) {
  if (row.status === "IN_QUEUE" && row.queue_position !== null) {
    return `IN_QUEUE #${row.queue_position}`;
  }
  return row.status;
}

function outcomeLabel(row) {
  if (row.outcome === "error") return `failed${row.error && row.error.type ? `: ${row.error.type}` : ""}`;
  if (row.outcome === "cancelled") return "cancelled";
  return "";
}

function badge(row, id) {
  return h(
    "span",
    { className: "badge", id, dataset: { status: row.status, outcome: row.outcome || "" } },
    statusLabel(row),
  );
}

/** Elapsed seconds of a row now: finished rows are fixed, running ones tick locally. */
function elapsedOf(row) {
  if (row.completed_at !== null) return row.elapsed;
  return row.elapsed + (performance.now() - state.receivedAt) / 1000;
}

async function fetchJson(url, options = {}) {
  const response = await fetch(url, { headers: { Accept: "application/json" }, ...options });
  let body = null;
  const text = await response.text();
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = text;
  }
  return { status: response.status, ok: response.ok, body, headers: response.headers };
}

/** fal's two error shapes: a detail list of {loc, msg, type}, or a detail string + error_type. */
function renderApiError(box, response, prefix) {
  box.replaceChildren();
  box.hidden = false;
  const body = response.body || {};
  const type = body.error_type || response.headers.get("x-fal-error-type");
  box.append(
    h("p", { className: "status-line" }, `${prefix}: HTTP ${response.status}${type ? ` (${type})` : ""}`),
  );
  if (Array.isArray(body.detail)) {
    box.append(
      h(
        "ul",
        {},
        body.detail.map((item) =>
          h("li", {}, h("code", {}, (item.loc || []).join(" → ")), `: ${item.msg} `, h("span", { className: "hint" }, `(${item.type})`)),
        ),
      ),
    );
  } else if (typeof body.detail === "string") {
    box.append(h("p", {}, body.detail));
  } else if (typeof body === "string" && body) {
    box.append(h("p", {}, body));
  }
  box.append(
    h("details", {}, h("summary", {}, "Response body"), h("pre", { className: "json small" }, json(response.body))),
  );
}

function hideBox(box) {
  box.hidden = true;
  box.replaceChildren();
}

// -- live list --------------------------------------------------------------------------------

function renderRows() {
  const body = $("request-rows");
  const rows = state.rows;
  body.replaceChildren(
    ...rows.map((row) => {
      const selected = row.request_id === state.selected;
      const prompt = row.prompt === null ? "(no prompt)" : row.prompt || "(empty prompt)";
      const outcome = outcomeLabel(row);
      return h(
        "tr",
        { className: selected ? "selected" : "", dataset: { id: row.request_id, status: row.status } },
        h("td", { dataset: { label: "Status" } }, h("span", {}, badge(row), outcome ? h("span", { className: "outcome" }, outcome) : null)),
        h("td", { className: "endpoint", dataset: { label: "Endpoint" }, title: row.endpoint_id }, shortEndpoint(row)),
        h(
          "td",
          { className: "prompt", dataset: { label: "Prompt" } },
          h(
            "button",
            {
              type: "button",
              className: "prompt-button",
              title: row.prompt || "",
              "aria-current": selected ? "true" : null,
              "aria-label": `Show request ${row.request_id.slice(0, 8)}: ${prompt}`,
              onclick: () => select(row.request_id, { scroll: true }),
            },
            prompt,
          ),
        ),
        h("td", { className: "params", dataset: { label: "Parameters" } }, paramsText(row.params)),
        h("td", { className: "num", dataset: { label: "Elapsed", elapsed: row.request_id } }, seconds(elapsedOf(row))),
        h("td", { className: "num", dataset: { label: "Cost" } }, `${row.cost_units} unit${row.cost_units === 1 ? "" : "s"}`),
      );
    }),
  );
  $("requests-empty").hidden = rows.length > 0;
  $("request-table").hidden = rows.length === 0;
  const running = rows.filter((r) => r.status !== "COMPLETED").length;
  $("requests-count").textContent = rows.length
    ? `${rows.length} shown, ${running} unfinished`
    : "";
}

function tickElapsed() {
  for (const row of state.rows) {
    if (row.completed_at !== null) continue;
    const cell = document.querySelector(`[data-elapsed="${row.request_id}"]`);
    if (cell) cell.textContent = seconds(elapsedOf(row));
  }
  if (state.detail && state.detail.completed_at === null) {
    const row = state.rows.find((r) => r.request_id === state.detail.request_id);
    if (row) $("detail-elapsed").textContent = seconds(elapsedOf(row));
  }
}

function applySnapshot(snapshot) {
  state.rows = snapshot.requests;
  state.serverNow = snapshot.now;
  state.receivedAt = performance.now();
  renderRows();
  if (state.selected) {
    const row = state.rows.find((r) => r.request_id === state.selected);
    const shown = state.detail;
    if (
      !row ||
      !shown ||
      row.status !== shown.status ||
      row.log_count !== shown.log_count ||
      row.queue_position !== shown.queue_position
    ) {
      loadDetail(state.selected);
    }
  }
  if (state.journalAvailable && $("journal-live").checked) later("journal", loadJournal);
  if (state.scenariosAvailable) later("scenarios", loadScenarios); // hit counts move too
}

function connectFeed() {
  const live = $("live");
  const source = new EventSource(`${API.events}?limit=${FEED_LIMIT}`);
  source.addEventListener("open", () => {
    live.dataset.state = "live";
    live.textContent = "Live";
  });
  source.addEventListener("error", () => {
    live.dataset.state = "offline";
    live.textContent = "Reconnecting…";
  });
  source.addEventListener("requests", (event) => applySnapshot(JSON.parse(event.data)));
}

// -- detail -----------------------------------------------------------------------------------

async function select(requestId, { scroll = false } = {}) {
  state.selected = requestId;
  renderRows();
  await loadDetail(requestId);
  if (scroll) $("detail").scrollIntoView({ behavior: "smooth", block: "start" });
}

let detailLoading = null;
async function loadDetail(requestId) {
  if (detailLoading === requestId) return;
  detailLoading = requestId;
  try {
    const response = await fetchJson(`${API.requests}/${encodeURIComponent(requestId)}`);
    if (state.selected !== requestId) return;
    if (response.status === 404) {
      state.detail = null;
      $("detail-body").hidden = true;
      $("detail-empty").hidden = false;
      $("detail-empty").textContent = "That request no longer exists (the emulator was reset).";
      return;
    }
    if (response.ok) renderDetail(response.body);
  } finally {
    detailLoading = null;
  }
}

function renderDetail(detail) {
  const previous = state.detail;
  state.detail = detail;
  $("detail-empty").hidden = true;
  $("detail-body").hidden = false;
  $("detail-id").textContent = detail.request_id;
  $("detail-status").replaceWith(badge(detail, "detail-status"));
  $("detail-outcome").textContent = outcomeLabel(detail);
  $("detail-endpoint").textContent = detail.endpoint_id;
  $("detail-elapsed").textContent = seconds(detail.elapsed);
  $("detail-inference").textContent = seconds(detail.inference_time);
  $("detail-cost").textContent = `${detail.cost_units} unit${detail.cost_units === 1 ? "" : "s"}`;
  $("detail-size").textContent = detail.video_size
    ? `${detail.video_size.width}×${detail.video_size.height}`
    : "–";

  const error = $("detail-error");
  error.hidden = !detail.error;
  error.textContent = detail.error
    ? `${detail.error.status_code} ${detail.error.type || ""}: ${detail.error.message}`
    : "";

  const video = $("detail-video");
  const sameRequest = previous && previous.request_id === detail.request_id;
  if (detail.video_url) {
    if (!sameRequest || video.getAttribute("src") !== detail.video_url) {
      video.src = detail.video_url;
      $("video-caption").textContent = detail.video_size
        ? `Output video, ${detail.video_size.width}×${detail.video_size.height} requested`
        : "Output video";
    }
    $("video-figure").hidden = false;
    $("video-pending").hidden = true;
  } else {
    if (video.getAttribute("src")) {
      video.removeAttribute("src");
      video.load();
    }
    $("video-figure").hidden = true;
    $("video-pending").hidden = false;
    $("video-pending").textContent =
      detail.status === "COMPLETED"
        ? "No video: the request did not produce one."
        : "The video appears here when the request completes.";
  }
  showImage("image-first", detail.input_images.image_url, "First frame");
  showImage("image-last", detail.input_images.end_image_url, "Last frame");
  const inputVideo = (detail.input_videos || {}).video_url;
  $("input-video").hidden = !inputVideo;
  $("input-video-url").textContent = inputVideo ? inputVideo.url : "";

  const logs = $("detail-logs");
  logs.replaceChildren(
    ...detail.logs.map((line) =>
      h(
        "li",
        {},
        h("time", { datetime: line.timestamp, className: "hint" }, line.timestamp.slice(11, 23)),
        " ",
        line.message,
      ),
    ),
  );
  if (!detail.logs.length) logs.replaceChildren(h("li", { className: "hint" }, "No log lines yet."));
  const notes = $("detail-notes");
  notes.replaceChildren(...detail.notes.map((note) => h("li", {}, note)));
  $("notes-section").hidden = !detail.notes.length;
  $("detail-input").textContent = json(detail.input);
  $("detail-output").textContent =
    detail.output === null ? "(not finished yet)" : `HTTP ${detail.output.status_code}\n${json(detail.output.body)}`;
}

function showImage(id, image, label) {
  const figure = $(id);
  figure.hidden = !image;
  if (!image) return;
  const img = figure.querySelector("img");
  if (img.getAttribute("src") !== image.preview) img.src = image.preview;
  img.alt = `${label} of the video, from ${image.url.startsWith("data:") ? "an uploaded image" : image.url}`;
}

function onVideoMetadata() {
  const video = $("detail-video");
  const detail = state.detail;
  if (!detail || !detail.video_size) return;
  const { width, height } = detail.video_size;
  const match = video.videoWidth === width && video.videoHeight === height;
  $("video-caption").textContent =
    `Output video: ${video.videoWidth}×${video.videoHeight}, ${video.duration.toFixed(1)} s` +
    (match ? " (as requested)" : ` (requested ${width}×${height})`);
}

// -- playground -------------------------------------------------------------------------------

async function loadSchemas() {
  const index = await fetchJson(API.schemas);
  if (!index.ok) {
    $("play-fields").replaceChildren(h("p", { className: "notice" }, "Endpoint schemas are unavailable."));
    return;
  }
  state.endpoints = index.body.endpoints;
  await Promise.all(
    state.endpoints.map(async (endpoint) => {
      const schema = await fetchJson(endpoint.input_schema_url);
      if (schema.ok) state.schemas.set(endpoint.endpoint_id, schema.body);
    }),
  );
  const select = $("play-endpoint");
  select.replaceChildren(
    ...state.endpoints.map((e) => h("option", { value: e.endpoint_id }, `${e.endpoint_id} (${e.kind})`)),
  );
  const journalEndpoint = $("journal-endpoint");
  journalEndpoint.append(...state.endpoints.map((e) => h("option", { value: e.endpoint_id }, e.endpoint_id)));
  buildForm();
}

function fieldOrder(schema) {
  const props = Object.keys(schema.properties || {});
  const order = schema["x-fal-order-properties"] || [];
  return [...order.filter((name) => props.includes(name)), ...props.filter((name) => !order.includes(name))];
}

/** One form control per schema property: enums as selects, booleans as checkboxes. */
function controlFor(name, prop, required) {
  const id = `field-${name}`;
  const describedBy = [];
  const parts = [];
  const label = h(
    "label",
    { for: id },
    prop.title || name,
    required ? h("span", { className: "required" }, " (required)") : null,
  );
  let control;
  if (Array.isArray(prop.enum)) {
    control = h(
      "select",
      { id, name },
      prop.enum.map((value) => h("option", { value, selected: value === prop.default }, String(value))),
    );
  } else if (prop.type === "boolean") {
    control = h("input", { id, name, type: "checkbox", checked: prop.default === true });
    const row = h("div", { className: "field" });
    const check = h("label", { className: "check", for: id }, control, prop.title || name);
    row.append(check);
    if (prop.description) {
      row.append(h("small", { id: `${id}-desc` }, prop.description));
      control.setAttribute("aria-describedby", `${id}-desc ${id}-err`);
    } else control.setAttribute("aria-describedby", `${id}-err`);
    row.append(h("p", { className: "field-error", id: `${id}-err`, hidden: true }));
    control.dataset.kind = "boolean";
    return row;
  } else if (prop.type === "integer" || prop.type === "number") {
    control = h("input", { id, name, type: "number", value: prop.default ?? "", step: prop.type === "integer" ? 1 : "any" });
    control.dataset.kind = prop.type;
  } else if (name.endsWith("_url")) {
    control = h("input", {
      id,
      name,
      type: "text",
      inputmode: "url",
      spellcheck: "false",
      placeholder: (prop.examples || [])[0] || "https:// or data: URI",
      value: prop.default ?? "",
    });
  } else {
    control = h(
      "textarea",
      { id, name, rows: name === "prompt" ? 3 : 2, placeholder: (prop.examples || [])[0] || "" },
      prop.default ?? "",
    );
  }
  if (required) control.setAttribute("aria-required", "true");
  parts.push(label, control);
  if (name.endsWith("_url") && !Array.isArray(prop.enum)) {
    const video = name.startsWith("video_");
    const picker = h("input", {
      type: "file",
      accept: video ? "video/mp4,video/quicktime,video/webm" : "image/png,image/jpeg,image/webp,image/gif",
      "aria-label": `${prop.title || name}: choose a local ${video ? "video" : "image"} (sent as a data: URI)`,
      onchange: (event) => readAsDataUri(event.target, control),
    });
    parts.push(h("div", { className: "file-row" }, "or a local file:", picker));
  }
  if (prop.description) {
    parts.push(h("small", { id: `${id}-desc` }, prop.description));
    describedBy.push(`${id}-desc`);
  }
  parts.push(h("p", { className: "field-error", id: `${id}-err`, hidden: true }));
  describedBy.push(`${id}-err`);
  control.setAttribute("aria-describedby", describedBy.join(" "));
  return h("div", { className: "field" }, parts);
}

function readAsDataUri(picker, target) {
  const file = picker.files && picker.files[0];
  if (!file) return;
  const reader = new FileReader();
  reader.addEventListener("load", () => {
    target.value = String(reader.result);
  });
  reader.readAsDataURL(file);
}

function currentSchema() {
  return state.schemas.get($("play-endpoint").value);
}

function buildForm() {
  const schema = currentSchema();
  const container = $("play-fields");
  if (!schema) {
    container.replaceChildren(h("p", { className: "notice" }, "No schema for this endpoint."));
    return;
  }
  const required = new Set(schema.required || []);
  container.replaceChildren(
    ...fieldOrder(schema).map((name) => controlFor(name, schema.properties[name], required.has(name))),
  );
  clearFieldErrors();
}

/** The JSON body: empty text fields are left out, so the API (not the page) judges them. */
function formPayload() {
  const schema = currentSchema();
  const payload = {};
  for (const name of fieldOrder(schema)) {
    const control = $(`field-${name}`);
    if (!control) continue;
    if (control.dataset.kind === "boolean") payload[name] = control.checked;
    else if (control.dataset.kind === "integer" || control.dataset.kind === "number") {
      if (control.value !== "") payload[name] = Number(control.value);
    } else if (control.value !== "") payload[name] = control.value;
  }
  return payload;
}

function clearFieldErrors() {
  for (const node of document.querySelectorAll("#play-fields .field-error")) {
    node.hidden = true;
    node.textContent = "";
  }
  for (const node of document.querySelectorAll("#play-fields [aria-invalid]")) node.removeAttribute("aria-invalid");
}

function showFieldErrors(detail) {
  if (!Array.isArray(detail)) return;
  for (const item of detail) {
    const loc = item.loc || [];
    const name = loc[0] === "body" ? loc[1] : loc[0];
    const slot = $(`field-${name}-err`);
    const control = $(`field-${name}`);
    if (!slot || !control) continue;
    slot.hidden = false;
    slot.textContent = slot.textContent ? `${slot.textContent}; ${item.msg}` : item.msg;
    control.setAttribute("aria-invalid", "true");
  }
}

async function submitPlayground(event) {
  event.preventDefault();
  const errors = $("play-errors");
  hideBox(errors);
  clearFieldErrors();
  const endpointId = $("play-endpoint").value;
  const key = $("play-key").value.trim();
  localStorage.setItem(KEY_STORAGE, key);
  const button = $("play-submit");
  button.disabled = true;
  try {
    const response = await fetchJson(`/${endpointId}`, {
      method: "POST",
      headers: {
        Accept: "application/json",
        "Content-Type": "application/json",
        Authorization: `Key ${key}`,
        "X-Fal-Queue-Priority": $("play-priority").value,
      },
      body: JSON.stringify(formPayload()),
    });
    if (!response.ok || !response.body || !response.body.request_id) {
      renderApiError(errors, response, "The queue refused the request");
      showFieldErrors(response.body && response.body.detail);
      const first = document.querySelector("#play-fields [aria-invalid='true']");
      if (response.status === 401) {
        // started with --api-key: the key lives under "Request options"
        document.querySelector("details.options").open = true;
        $("play-key").focus();
      } else if (first) first.focus();
      return;
    }
    followRequest(response.body, key);
    select(response.body.request_id, { scroll: window.matchMedia("(max-width: 999px)").matches });
  } catch (error) {
    errors.hidden = false;
    errors.textContent = `Could not reach the emulator: ${error}`;
  } finally {
    button.disabled = false;
  }
}

/** Follow a submission the way a client does: the queue API's status stream, with the key. */
async function followRequest(submitted, key) {
  if (state.follow) state.follow.abort();
  const controller = new AbortController();
  state.follow = controller;
  $("play-follow").hidden = false;
  $("play-request-id").textContent = submitted.request_id;
  showFollowStatus(submitted);
  try {
    const response = await fetch(`${submitted.status_url}/stream?logs=1`, {
      headers: { Authorization: `Key ${key}`, Accept: "text/event-stream" },
      signal: controller.signal,
    });
    if (!response.ok || !response.body) {
      showFollowStatus({ status: `HTTP ${response.status}` });
      return;
    }
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      let end;
      while ((end = EVENT_END.exec(buffer))) {
        const block = buffer.slice(0, end.index);
        buffer = buffer.slice(end.index + end[0].length);
        const data = block
          .split(/\r?\n/)
          .filter((line) => line.startsWith("data:"))
          .map((line) => line.slice(5).trim())
          .join("\n");
        if (data) showFollowStatus(JSON.parse(data));
      }
    }
    await showResult(submitted, key);
  } catch (error) {
    if (error.name !== "AbortError") showFollowStatus({ status: "stream interrupted" });
  }
}

/** Fetch the result as a client does once COMPLETED: fal's queue accepts invalid input and
 * answers its 422 here, so the form shows the field errors only now. */
async function showResult(submitted, key) {
  const response = await fetchJson(submitted.response_url, {
    headers: { Accept: "application/json", Authorization: `Key ${key}` },
  });
  if (response.ok) return;
  const body = response.body || {};
  const kinds = Array.isArray(body.detail)
    ? [...new Set(body.detail.map((item) => item.type))].join(", ")
    : body.error_type || response.headers.get("x-fal-error-type") || "";
  const node = $("play-status");
  node.textContent = `COMPLETED (result: HTTP ${response.status}${kinds ? ` ${kinds}` : ""})`;
  node.dataset.outcome = "error";
  renderApiError($("play-errors"), response, "The request completed with an error");
  showFieldErrors(response.body && response.body.detail);
  const first = document.querySelector("#play-fields [aria-invalid='true']");
  if (first) first.focus();
}

function showFollowStatus(body) {
  const label = body.status === "IN_QUEUE" && body.queue_position !== undefined
    ? `IN_QUEUE #${body.queue_position}`
    : body.status;
  const node = $("play-status");
  node.textContent = body.error ? `${label} (${body.error_type || "error"})` : label;
  node.dataset.status = body.status;
  node.dataset.outcome = body.error ? "error" : "";
  $("play-status-json").textContent = json(body);
}

// -- scenarios --------------------------------------------------------------------------------

function unavailable(prefix, noticeId, bodyId, response) {
  const notice = $(noticeId);
  notice.hidden = false;
  notice.textContent =
    response.status === 404
      ? `${prefix} not available on this emulator: it has no ${response.url} control route (HTTP 404).`
      : `${prefix} unavailable: HTTP ${response.status}.`;
  $(bodyId).hidden = true;
}

function scenarioList(body) {
  if (Array.isArray(body)) return body;
  if (body && Array.isArray(body.scenarios)) return body.scenarios;
  return [];
}

async function loadScenarios() {
  const response = await fetchJson(API.scenarios);
  if (!response.ok) {
    state.scenariosAvailable = false;
    unavailable("Scenarios are", "scenarios-unavailable", "scenarios-body", { ...response, url: API.scenarios });
    return;
  }
  state.scenariosAvailable = true;
  $("scenarios-unavailable").hidden = true;
  $("scenarios-body").hidden = false;
  const items = scenarioList(response.body);
  $("scenario-list").replaceChildren(
    ...items.map((item) =>
      h(
        "li",
        {},
        h(
          "div",
          { className: "scenario-head" },
          h("strong", {}, item.name || "(unnamed)"),
          item.name
            ? h(
                "button",
                {
                  type: "button",
                  className: "button small",
                  "aria-label": `Remove scenario ${item.name}`,
                  onclick: () => removeScenario(item.name),
                },
                "Remove",
              )
            : null,
        ),
        h("pre", { className: "mono" }, json(item)),
      ),
    ),
  );
  $("scenarios-empty").hidden = items.length > 0;
}

async function loadTemplates() {
  const response = await fetchJson(API.templates);
  const templates = response.ok && Array.isArray(response.body) ? response.body : [];
  const select = $("scenario-template");
  select.replaceChildren(...templates.map((t, i) => h("option", { value: i }, t.label)));
  const fill = () => {
    const chosen = templates[Number(select.value)];
    if (chosen) $("scenario-json").value = json(chosen.scenario);
  };
  select.addEventListener("change", fill);
  fill();
}

async function addScenario(event) {
  event.preventDefault();
  const errors = $("scenario-errors");
  hideBox(errors);
  let scenario;
  try {
    scenario = JSON.parse($("scenario-json").value);
  } catch (error) {
    errors.hidden = false;
    errors.textContent = `Not valid JSON: ${error.message}`;
    return;
  }
  const response = await fetchJson(API.scenarios, {
    method: "POST",
    headers: { Accept: "application/json", "Content-Type": "application/json" },
    body: JSON.stringify(scenario),
  });
  if (!response.ok) {
    renderApiError(errors, response, "The control API refused the scenario");
    return;
  }
  $("scenario-status").textContent = `Added scenario ${scenario.name || ""}`.trim();
  await loadScenarios();
}

async function removeScenario(name) {
  const response = await fetchJson(`${API.scenarios}/${encodeURIComponent(name)}`, { method: "DELETE" });
  if (!response.ok) {
    renderApiError($("scenario-errors"), response, `Could not remove scenario ${name}`);
    return;
  }
  hideBox($("scenario-errors"));
  $("scenario-status").textContent = `Removed scenario ${name}`;
  await loadScenarios();
}

async function clearScenarios() {
  const response = await fetchJson(API.scenarios, { method: "DELETE" });
  if (!response.ok) {
    renderApiError($("scenario-errors"), response, "Could not clear the scenarios");
    return;
  }
  $("scenario-status").textContent = "All scenarios cleared";
  await loadScenarios();
}

// -- journal ----------------------------------------------------------------------------------

const timers = {};
/** Debounced refresh: a burst of feed events costs one request per panel. */
function later(name, load) {
  clearTimeout(timers[name]);
  timers[name] = setTimeout(load, 300);
}

async function loadJournal(event) {
  if (event) event.preventDefault();
  const params = new URLSearchParams({ limit: "50" });
  for (const [name, value] of new FormData($("journal-form"))) {
    if (String(value).trim()) params.set(name, String(value).trim());
  }
  const response = await fetchJson(`${API.journal}?${params}`);
  const errors = $("journal-errors");
  if (response.status === 404 && !(response.body && Array.isArray(response.body.detail))) {
    state.journalAvailable = false;
    unavailable("The journal is", "journal-unavailable", "journal-body", { ...response, url: API.journal });
    return;
  }
  if (!response.ok) {
    renderApiError(errors, response, "The journal refused the filters");
    return;
  }
  hideBox(errors);
  const entries = [...(response.body.entries || [])].reverse();
  $("journal-rows").replaceChildren(
    ...entries.map((entry) =>
      h(
        "tr",
        {},
        h("td", { className: "num" }, (entry.timestamp || "").slice(11, 23)),
        h("td", {}, entry.method),
        h("td", { className: "mono" }, entry.path + (entry.query ? `?${entry.query}` : "")),
        h("td", { className: "num" }, entry.status ?? "…"),
        h("td", { className: "num" }, entry.duration_ms === null || entry.duration_ms === undefined ? "" : entry.duration_ms.toFixed(1)),
      ),
    ),
  );
  $("journal-count").textContent = `${response.body.count} of ${response.body.size ?? "?"} entries`;
}

// -- reset ------------------------------------------------------------------------------------

async function resetState() {
  const banner = $("reset-status");
  const response = await fetchJson(API.reset, { method: "POST" });
  banner.hidden = false;
  if (response.status === 404) {
    banner.textContent = "Reset is not available on this emulator: it has no /_mock/reset control route (HTTP 404).";
    return;
  }
  if (!response.ok) {
    banner.textContent = `Reset failed: HTTP ${response.status}`;
    return;
  }
  banner.textContent = "Emulator state reset: requests, journal and scenarios are back to their start.";
  state.selected = null;
  state.detail = null;
  $("detail-body").hidden = true;
  $("detail-empty").hidden = false;
  $("detail-empty").textContent = "Choose a request in the list to see its input, logs, output and video.";
  await Promise.all([loadScenarios(), state.journalAvailable ? loadJournal() : null]);
}

// -- start ------------------------------------------------------------------------------------

function start() {
  const savedKey = localStorage.getItem(KEY_STORAGE);
  if (savedKey) $("play-key").value = savedKey;
  $("play-endpoint").addEventListener("change", buildForm);
  $("play-form").addEventListener("submit", submitPlayground);
  $("play-reset").addEventListener("click", () => {
    buildForm();
    hideBox($("play-errors"));
  });
  $("scenario-form").addEventListener("submit", addScenario);
  $("scenario-clear").addEventListener("click", clearScenarios);
  $("journal-form").addEventListener("submit", loadJournal);
  $("reset").addEventListener("click", resetState);
  $("detail-video").addEventListener("loadedmetadata", onVideoMetadata);
  renderRows();
  connectFeed();
  setInterval(tickElapsed, 500);
  Promise.all([loadSchemas(), loadTemplates(), loadScenarios(), loadJournal()]).then(() => {
    document.body.dataset.ready = "true";
  });
}

document.addEventListener("DOMContentLoaded", start);
