"""``ray2-mock record``: save fal's real answers as schema-checked, redacted examples.

Redaction is by construction, not by search-and-replace: a recorded body keeps a string
only under a key on ``VERBATIM_KEYS`` (status, error types, log text, ...); URLs keep fal's
host and path shape with request ids replaced and every query string (signatures) dropped;
any other string becomes ``<string:N>``. Headers are an allow-list. The key is never read
into a record, and as a last guard every kept string has any known secret replaced.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from contracts.checks import schema_problems
from contracts.strategies import I2V, T2V, every_rule
from contracts.targets import Target

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
        "retry-after",
    }
)
FAL_HOST = re.compile(r"(^|\.)(fal\.run|fal\.ai|fal\.media|falrun\.com)$")
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I)
SECRET_MARK = "<redacted-secret>"
OUTPUT = "ray-2.output.json"


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
        if "/files/" in path:  # CDN object names are per-user tokens
            path = "/files/<redacted>/" + path.rsplit("/", 1)[-1]
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


def save(examples: Iterable[Example], out_dir: Path, redactor: Redactor) -> list[Path]:
    """Write one JSON file per example; refuse to write anything a secret survived into."""
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).date().isoformat()
    written = []
    for item in examples:
        document = {"recorded": stamp, "source": "live fal", **item.__dict__}
        text = json.dumps(document, indent=2, sort_keys=True) + "\n"
        leaked = [s for s in redactor.secrets if s and s in text]
        if leaked:
            raise RuntimeError(f"refusing to write {item.name}: a secret survived redaction")
        path = out_dir / f"{item.name}.json"
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def record(target: Target, out_dir: Path = RECORD_DIR) -> tuple[list[Path], list[str]]:
    """Drive live fal through each kind of answer once (budget permitting) and save them.

    Returns the files written and the schema problems found (each one is drift).
    """
    if not target.live:
        raise ValueError("record talks to live fal only (--target live)")
    redactor = Redactor(secrets=[target.key])
    examples: list[Example] = []
    with target.http() as http:
        for short, endpoint in (("t2v", T2V), ("i2v", I2V)):
            case = every_rule(endpoint)[0]
            response = http.post(target.submit_url(endpoint), json=case.body)
            examples.append(
                example(
                    redactor,
                    f"{short}-validation-error",
                    response,
                    "error-validation.response.json",
                )
            )
        unknown = http.get(target.request_url("00000000-0000-0000-0000-000000000000", "/status"))
        examples.append(
            example(redactor, "unknown-request", unknown, "error-request.response.json")
        )
        if target.budget.can_spend(1):
            examples.extend(_one_generation(target, http, redactor))
    problems = [f"{e.name}: {p}" for e in examples for p in e.problems]
    return save(examples, out_dir, redactor), problems


def _one_generation(target: Target, http: httpx.Client, redactor: Redactor) -> list[Example]:
    """Submit one 1-unit clip and record each status kind, the result and a late cancel."""
    arguments = {"prompt": "a red fox running through fresh snow at dawn"}
    target.charge(T2V, arguments)
    submitted = http.post(target.submit_url(T2V), json=arguments)
    found = [example(redactor, "t2v-submit", submitted, "queue-submit.response.json")]
    if submitted.status_code != 200:
        return found
    urls = submitted.json()
    seen: set[str] = set()
    deadline = time.monotonic() + target.completion_timeout
    status = ""
    while status != "COMPLETED" and time.monotonic() < deadline:
        response = http.get(urls["status_url"], params={"logs": "1"})
        status = str(response.json().get("status", "?"))
        if status not in seen:
            seen.add(status)
            name = f"t2v-status-{status.lower().replace('_', '-')}"
            found.append(example(redactor, name, response, "queue-status.response.json"))
        target.pause()
    found.append(example(redactor, "t2v-result", http.get(urls["response_url"]), OUTPUT))
    cancel = http.put(urls["cancel_url"])
    found.append(example(redactor, "cancel-completed", cancel, "queue-cancel.response.json"))
    return found
