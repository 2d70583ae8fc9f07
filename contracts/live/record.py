"""``ray2-mock record``: save fal's real answers as schema-checked, redacted examples.

Redaction is by construction, not by search-and-replace: a recorded body keeps a string
only under a key on ``VERBATIM_KEYS`` (status, error types, log text, ...); URLs keep fal's
host and path shape with request ids and CDN file ids replaced and every query string
(signatures) dropped; any other string becomes ``<string:N>``. Headers are an allow-list. The
key is never read into a record, and as a last guard every kept string has the key (and its id
and secret halves) replaced.

Each file is written whole or not at all (a temporary file renamed into place), and names are
fixed per kind of answer, so a second run replaces the first instead of adding to it. If the
network fails part-way, what was recorded before is saved and ``RecordingInterrupted`` says
what failed, in one line.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from contracts.generation.strategies import I2V, T2V, every_rule
from contracts.server.checks import schema_problems
from contracts.server.netfail import UNKNOWN_REQUEST, Unreachable, describe
from contracts.server.targets import Target

RECORD_DIR = Path("fixtures/recorded")
VERBATIM_KEYS = frozenset(
    {
        "status",
        "error_type",
        "error",
        "detail",
        "msg",
        "type",
        "loc",
        "level",
        "source",
        "message",
        "timestamp",
        "content_type",
        "file_name",
    }
)
ID_KEYS = frozenset({"request_id", "gateway_request_id"})
KEPT_HEADERS = frozenset(
    {
        "content-type",
        "x-fal-request-id",
        "x-fal-error-type",
        "x-fal-retryable",
        "x-fal-request-timeout-type",
        "x-fal-billable-units",
        "x-fal-needs-retry",
        "retry-after",
    }
)
FAL_HOST = re.compile(r"(^|\.)(fal\.run|fal\.ai|fal\.media|falrun\.com)$")
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I)
CDN_FILE = re.compile(r"^(?:[A-Za-z0-9_-]{21}|[^_]+)_(?P<name>.+)$")
"""A CDN object name, ``<21-char id>_<file name>``: the id is per-user, the name is the shape."""
SECRET_MARK = "<redacted-secret>"
SECRET_PART_MIN = 6
"""A key's id or secret half shorter than this is too likely to occur by chance to replace."""
OUTPUT = "ray-2.output.json"


class RecordingInterrupted(Unreachable):
    """The network failed part-way; ``written`` are the complete files saved before it."""

    def __init__(self, message: str, written: list[Path]) -> None:
        super().__init__(message)
        self.written = written


def secrets_of(key: str) -> list[str]:
    """The key and, when long enough to be meaningful, its id and secret halves."""
    parts = [p for p in key.split(":") if len(p) >= SECRET_PART_MIN] if ":" in key else []
    return [key, *parts] if key else []


@dataclass
class Redactor:
    secrets: list[str] = field(default_factory=list)
    ids: dict[str, str] = field(default_factory=dict)

    def request_id(self, value: str) -> str:
        return self.ids.setdefault(value, f"<request-id-{len(self.ids) + 1}>")

    def _scrub(self, text: str) -> str:
        for secret in self.secrets:
            if secret:
                text = text.replace(secret, SECRET_MARK)
        return text

    def url(self, value: str) -> str:
        parts = urlsplit(value)
        host = parts.hostname or ""
        if not FAL_HOST.search(host):
            return "<url>"
        path = parts.path
        for known, placeholder in self.ids.items():
            path = path.replace(known, placeholder)
        path = UUID.sub(lambda m: self.request_id(m.group(0)), path)
        if "/files/" in path:  # CDN folders and object ids are per-user tokens
            match = CDN_FILE.match(path.rsplit("/", 1)[-1])
            path = "/files/<redacted>/" + (f"<file-id>_{match['name']}" if match else "<file>")
        query = "?<redacted>" if parts.query else ""
        return self._scrub(f"{parts.scheme}://{host}{path}{query}")

    def body(self, value: Any, key: str | None = None) -> Any:
        if isinstance(value, Mapping):
            return {str(k): self.body(v, str(k)) for k, v in value.items()}
        if isinstance(value, list):
            return [self.body(item, key) for item in value]
        if not isinstance(value, str):
            return value
        if key in ID_KEYS:
            return self.request_id(value)
        if value.startswith(("http://", "https://")):
            return self.url(value)
        if key in VERBATIM_KEYS:
            return self._scrub(value)
        return f"<string:{len(value)}>"

    def headers(self, headers: Mapping[str, str]) -> dict[str, str]:
        kept = {k.lower(): v for k, v in headers.items() if k.lower() in KEPT_HEADERS}
        if "x-fal-request-id" in kept:
            kept["x-fal-request-id"] = self.request_id(kept["x-fal-request-id"])
        return {k: self._scrub(v) for k, v in sorted(kept.items())}


@dataclass
class Example:
    name: str
    schema: str | None
    method: str
    path: str
    status_code: int
    headers: dict[str, str]
    body: Any
    problems: list[str] = field(default_factory=list)


def example(redactor: Redactor, name: str, response: httpx.Response, schema: str | None) -> Example:
    """One answer, schema-checked first (on the real body), then redacted."""
    body: Any
    try:
        body = response.json()
    except ValueError:
        body = response.text
    problems = schema_problems(schema, body) if schema else []
    path = urlsplit(str(response.request.url)).path
    return Example(
        name=name,
        schema=schema,
        method=response.request.method,
        path=redactor.url(f"https://queue.fal.run{path}").removeprefix("https://queue.fal.run"),
        status_code=response.status_code,
        headers=redactor.headers(response.headers),
        body=redactor.body(body),
        problems=problems,
    )


def write_atomically(path: Path, text: str) -> None:
    """``path`` holds its old content or all of ``text``, never a part (a crash, a full disk)."""
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def save(examples: Iterable[Example], out_dir: Path, redactor: Redactor) -> list[Path]:
    """Write one JSON file per example, each atomically; if a secret survived into any of
    them, write none."""
    stamp = datetime.now(UTC).date().isoformat()
    rendered = []
    for item in examples:
        document = {"recorded": stamp, "source": "live fal", **item.__dict__}
        text = json.dumps(document, indent=2, sort_keys=True) + "\n"
        if any(s and s in text for s in redactor.secrets):
            raise RuntimeError(f"refusing to write {item.name}: a secret survived redaction")
        rendered.append((out_dir / f"{item.name}.json", text))
    out_dir.mkdir(parents=True, exist_ok=True)
    for path, text in rendered:
        write_atomically(path, text)
    return [path for path, _ in rendered]


def record(target: Target, out_dir: Path = RECORD_DIR) -> tuple[list[Path], list[str]]:
    """Drive live fal through each kind of answer once (budget permitting) and save them.

    Returns the files written and the schema problems found (each one is drift). A network
    failure part-way saves what came before it and raises ``RecordingInterrupted``.
    """
    if not target.live:
        raise ValueError("record talks to live fal only (--target live)")
    redactor = Redactor(secrets=secrets_of(target.key))
    examples: list[Example] = []
    try:
        with target.http() as http:
            _free_answers(target, http, redactor, examples)
            if target.budget.can_spend(1):
                _one_generation(target, http, redactor, examples)
    except httpx.TransportError as exc:
        written = save(examples, out_dir, redactor)
        raise RecordingInterrupted(describe(exc), written) from None
    problems = [f"{e.name}: {p}" for e in examples for p in e.problems]
    return save(examples, out_dir, redactor), problems


def _free_answers(
    target: Target, http: httpx.Client, redactor: Redactor, found: list[Example]
) -> None:
    """Answers that bill nothing: each endpoint's 422, from sync run at once and from the
    result of a queued request (fal's queue accepts invalid input), and an unknown request."""
    validation = "error-validation.response.json"
    for short, endpoint in (("t2v", T2V), ("i2v", I2V)):
        body = every_rule(endpoint)[0].body
        ran = http.post(target.run_endpoint_url(endpoint), json=body)
        found.append(example(redactor, f"{short}-validation-error", ran, validation))
        submitted = http.post(target.submit_url(endpoint), json=body)
        if submitted.status_code == 200:
            _wait_completed(target, http, submitted.json()["status_url"])
            result = http.get(submitted.json()["response_url"])
            found.append(example(redactor, f"{short}-queued-validation-error", result, validation))
    unknown = http.get(target.request_url(UNKNOWN_REQUEST))
    found.append(example(redactor, "unknown-request", unknown, "error-request.response.json"))


def _wait_completed(
    target: Target,
    http: httpx.Client,
    status_url: str,
    on_status: Callable[[str, httpx.Response], None] | None = None,
) -> None:
    """Poll until COMPLETED (or the target's completion timeout), showing each answer to
    ``on_status``."""
    deadline = time.monotonic() + target.completion_timeout
    while time.monotonic() < deadline:
        response = http.get(status_url, params={"logs": "1"})
        try:
            status = str(response.json().get("status", "?"))
        except (ValueError, AttributeError):  # an ingress error page, say: poll again
            status = "?"
        if on_status is not None:
            on_status(status, response)
        if status == "COMPLETED":
            return
        target.pause()


def _one_generation(
    target: Target, http: httpx.Client, redactor: Redactor, found: list[Example]
) -> None:
    """Submit one 1-unit clip and record each status kind, the result and a late cancel."""
    arguments = {"prompt": "a red fox running through fresh snow at dawn"}
    target.charge(T2V, arguments)
    submitted = http.post(target.submit_url(T2V), json=arguments)
    found.append(example(redactor, "t2v-submit", submitted, "queue-submit.response.json"))
    if submitted.status_code != 200:
        return
    urls = submitted.json()
    seen: set[str] = set()

    def first_of_each(status: str, response: httpx.Response) -> None:
        if status not in seen:
            seen.add(status)
            name = f"t2v-status-{status.lower().replace('_', '-')}"
            found.append(example(redactor, name, response, "queue-status.response.json"))

    _wait_completed(target, http, urls["status_url"], first_of_each)
    found.append(example(redactor, "t2v-result", http.get(urls["response_url"]), OUTPUT))
    cancel = http.put(urls["cancel_url"])
    found.append(example(redactor, "cancel-completed", cancel, "queue-cancel.response.json"))
