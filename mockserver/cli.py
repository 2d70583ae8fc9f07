"""``ray2-mock serve | env | check | record``: start the emulator, print the exports that route
clients to it, or run the contract suite (``check``/``record`` live in ``contracts/cli.py``)."""

from __future__ import annotations

import argparse
import logging
import math
import os
import shlex
import socket
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from contracts import cli as contracts_cli  # the suite's check/record subcommands
from contracts.schemas.specs import SpecError
from mockserver.chaos.parse import ScenarioError, load_file
from mockserver.config import DEFAULT_PORT, REMOTE_IMAGE_POLICIES, Config, with_admin_token
from mockserver.environ import (
    ENV_PREFIX,
    EnvironmentValueError,
    FromEnvironment,
    env_name,
    from_environment,
    serve_flags,
)
from mockserver.fal.auth import LOCAL_KEY as FAKE_KEY
from mockserver.fal.auth import load_key_file
from mockserver.fal.endpoints import register_endpoint_specs
from mockserver.fal.hosts import is_loopback
from mockserver.queue import check_progression
from mockserver.serving.server import ServerInfo, run_forever, run_workers, serve_command
from mockserver.shared.connection import is_redis_url, mask_url
from mockserver.timing import TIMING_PROFILES


def _serve_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "serve",
        help="start the emulator",
        description="Start the emulator. Every flag can also be set by an environment variable, "
        f"{ENV_PREFIX}<FLAG> (--state-dir: {ENV_PREFIX}STATE_DIR; a repeatable flag takes a "
        "comma-separated list, a switch 1/true/yes or 0/false/no); a flag given on the command "
        "line wins over its variable (docs/service.md).",
    )
    p.add_argument("--host", default="127.0.0.1", help="bind address (default: loopback only)")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help="plain HTTP port")
    p.add_argument(
        "--tls-port",
        type=int,
        default=None,
        help="HTTPS port for fal's host names (default port+1; 0 disables TLS)",
    )
    p.add_argument(
        "--proxy-port", type=int, default=None, help="CONNECT proxy port (default port+2)"
    )
    p.add_argument("--state-dir", type=Path, default=Path(".ray2-mock"))
    p.add_argument(
        "--store",
        type=store_choice,
        default="sqlite",
        metavar="sqlite|memory|redis://HOST:PORT/DB",
        help="where requests live: a SQLite file (default), memory, or a Redis that replicas "
        "on any hosts share",
    )
    p.add_argument("--timing", choices=sorted(TIMING_PROFILES), default="fast")
    p.add_argument("--capacity", type=int, default=None, help="requests running at once")
    p.add_argument("--api-key", default=None, help="accept only 'Authorization: Key <this>'")
    p.add_argument(
        "--api-keys",
        type=Path,
        default=None,
        metavar="FILE",
        help="a team's keys: one <key_id>:<key_secret> a line (# comments); exactly these are "
        "accepted, and the ledger shows each one's spend",
    )
    p.add_argument(
        "--admin-token",
        default=None,
        metavar="TOKEN",
        help="token the control plane (/_mock, the dashboard) requires, as 'Authorization: "
        "Bearer TOKEN' or basic auth with TOKEN as the password; bound beyond loopback without "
        "one, serve makes one and prints it once (prefer the variable: a flag shows in ps)",
    )
    p.add_argument("--max-body-bytes", type=int, default=Config.max_body_bytes)
    p.add_argument("--render-workers", type=int, default=Config.render_workers)
    p.add_argument(
        "--remote-images",
        choices=REMOTE_IMAGE_POLICIES,
        default=Config.remote_images,
        help="image URLs on other hosts: a deterministic placeholder (offline, the default), "
        "fetch them for real, or fail with fal's file_download_error",
    )
    p.add_argument(
        "--allow-remote-fetch",
        dest="remote_images",
        action="store_const",
        const="fetch",
        help="the same as --remote-images fetch",
    )
    p.add_argument(
        "--validate-at-submit",
        action="store_true",
        help="opt-in fast failure: a queue submit with invalid input answers its 422 at once "
        "(live fal accepts it and the 422 comes from the result)",
    )
    p.add_argument(
        "--max-upload-bytes",
        type=int,
        default=Config.max_upload_bytes,
        help="largest file the storage emulation accepts",
    )
    p.add_argument(
        "--webhook-allow",
        action="append",
        default=[],
        metavar="HOST",
        help="also deliver webhooks to HOST (default: loopback only); repeatable",
    )
    p.add_argument("--webhook-retries", type=int, default=Config.webhook_max_retries)
    p.add_argument(
        "--webhook-retry-base",
        type=float,
        default=Config.webhook_retry_base_seconds,
        help="seconds before the first retry; doubles each time up to --webhook-retry-max",
    )
    p.add_argument("--webhook-retry-max", type=float, default=Config.webhook_retry_max_seconds)
    p.add_argument("--webhook-timeout", type=float, default=Config.webhook_timeout_seconds)
    p.add_argument(
        "--scenarios",
        type=Path,
        default=None,
        help="YAML/JSON scenario file (docs/failures.md: the scenario format)",
    )
    p.add_argument(
        "--endpoint-spec",
        dest="endpoint_specs",
        type=Path,
        action="append",
        default=[],
        metavar="FILE",
        help="fal's OpenAPI document of an endpoint (or a folder of them): that endpoint is "
        "validated with its real bounds and defaults; repeatable (fetch-spec saves one)",
    )
    p.add_argument(
        "--passthrough",
        action="append",
        default=[],
        metavar="ENDPOINT",
        help="forward this endpoint's calls to live fal with --passthrough-key ('*': every "
        "endpoint the emulator does not know); repeatable; off by default",
    )
    p.add_argument(
        "--passthrough-key",
        default=None,
        help="your real fal key, for forwarded calls; prefer RAY2_MOCK_PASSTHROUGH_KEY, which "
        "other users of this machine cannot read in the process list",
    )
    p.add_argument(
        "--passthrough-budget",
        type=int,
        default=Config.passthrough_budget,
        help="how many submits and sync runs may be forwarded (each may cost money)",
    )
    p.add_argument(
        "--passthrough-upstream",
        default=None,
        metavar="URL",
        help="where forwarded calls go instead of fal (queue at the root, run under /run)",
    )
    p.add_argument(
        "--fault-rate",
        type=_rate,
        default=None,
        help="probability of each random fault kind per request, 0-1 (chaos runs)",
    )
    p.add_argument("--seed", type=int, default=None, help="seed of the random faults")
    p.add_argument(
        "--progression",
        type=_progression,
        default=None,
        help="how requests move: timed (default), immediate, manual or polls:N",
    )
    p.add_argument(
        "--journal-size",
        type=int,
        default=Config.journal_size,
        help="requests the journal keeps (oldest dropped first; 0 turns it off)",
    )
    p.add_argument(
        "--retention",
        type=float,
        default=Config.retention_seconds,
        help="emulated seconds a completed request stays known in the memory store "
        "(fal's payload storage: 30 days; with X-Fal-Store-IO: 0 fal's 1 h, or 6 min for a "
        "result of 10 KB or more, never longer); then it answers 404 like an unknown id",
    )
    p.add_argument(
        "--retention-count",
        type=int,
        default=Config.retention_count,
        help="completed requests the memory store keeps at most (oldest forgotten first)",
    )
    p.add_argument(
        "--log-window",
        type=float,
        default=Config.log_window_seconds,
        metavar="SECONDS",
        help="?logs=1 answers the log lines of the last SECONDS (emulated), ending now or at "
        "the finish, as fal's gateway does (5 min); 0 answers every line so far",
    )
    p.add_argument(
        "--stream-repeat",
        type=float,
        default=Config.stream_repeat_seconds,
        metavar="SECONDS",
        help="the status stream sends the unchanged status again after SECONDS of quiet "
        "while queued or running, as fal's does; 0 turns it off",
    )
    p.add_argument(
        "--log-level", default="info", help="above info, uvicorn's access log is off too"
    )
    p.add_argument(
        "--workers",
        type=int,
        default=1,
        help="processes sharing the port and the SQLite state (needs --store sqlite)",
    )
    for action in serve_flags(p):
        action.help = f"{action.help or ''} [env {env_name(action)}]".lstrip()
    return p


def _rate(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a probability between 0 and 1")
    return value


def store_choice(text: str) -> str:
    if text in ("sqlite", "memory") or is_redis_url(text):
        return text
    raise argparse.ArgumentTypeError(
        f"{mask_url(text)!r}: use sqlite, memory or a Redis URL (redis://HOST:PORT/DB)"
    )


def _progression(text: str) -> str:
    try:
        return check_progression(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def _env_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("env", help="print shell exports that route fal clients here")
    p.add_argument("--state-dir", type=Path, default=Path(".ray2-mock"))
    p.add_argument(
        "--mode",
        choices=["proxy", "direct"],
        default="proxy",
        help="proxy: everything incl. uploads via HTTPS_PROXY; direct: FAL_*_HOST",
    )
    p.add_argument("--shell", choices=["sh", "fish", "powershell"], default="sh")
    p.add_argument(
        "--from",
        dest="from_url",
        default=None,
        metavar="URL",
        help="an emulator running elsewhere (a container, another machine), by its plain URL "
        "http://HOST:PORT: its listeners and CA are read from it (the CA saved under "
        "--state-dir, or --ca-file), instead of from --state-dir's server.json",
    )
    p.add_argument(
        "--tls-port",
        type=int,
        default=None,
        help="with --from: the TLS port as reached from here (default: PORT+1, or the "
        "emulator's own distance from its plain port)",
    )
    p.add_argument(
        "--proxy-port",
        type=int,
        default=None,
        help="with --from: the CONNECT proxy's port as reached from here (default: PORT+2, or "
        "the emulator's own distance)",
    )
    p.add_argument(
        "--ca-file",
        type=Path,
        default=None,
        help="with --from: where to save the emulator's CA certificate "
        "(default: STATE_DIR/remote/HOST-PORT/ca.pem)",
    )


NODE_ROUTE = Path(__file__).resolve().parent / "serving" / "node_route.cjs"
"""Preloaded into node by ``NODE_OPTIONS``: node's fetch ignores ``HTTPS_PROXY``, so this module
sends fal's hosts to the TLS listener itself (see the file for how)."""


def env_exports(info: ServerInfo, mode: str, *, node_route: Path = NODE_ROUTE) -> dict[str, str]:
    """The variables that make the unmodified clients talk to this emulator."""
    if info.ca_cert is None or info.tls_port is None:
        raise SystemExit("the emulator runs without TLS (--tls-port 0): no env routing")
    host = _reachable(info.host)
    if mode == "direct":
        routes = {
            "FAL_RUN_HOST": f"{host}:{info.tls_port}/run",
            "FAL_QUEUE_RUN_HOST": f"{host}:{info.tls_port}",
        }
    else:
        routes = {"HTTPS_PROXY": f"http://{host}:{info.proxy_port}"}
    return {
        **routes,
        # Who reads which CA variable: Python's ssl and httpx SSL_CERT_FILE, requests only
        # REQUESTS_CA_BUNDLE (or CURL_CA_BUNDLE), the curl tool CURL_CA_BUNDLE, node its own.
        "SSL_CERT_FILE": info.ca_cert,
        "REQUESTS_CA_BUNDLE": info.ca_cert,
        "CURL_CA_BUNDLE": info.ca_cert,
        "NODE_EXTRA_CA_CERTS": info.ca_cert,
        "RAY2_MOCK_TLS_URL": f"https://{host}:{info.tls_port}",
        "NODE_OPTIONS": node_require(node_route),
    }


def _reachable(host: str) -> str:
    """The bind address as a URL host: a wildcard bind is reached on loopback."""
    if host in ("", "0.0.0.0", "::"):
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host


def node_require(path: Path) -> str:
    """``--require`` of ``path`` in NODE_OPTIONS' own syntax: node splits it on spaces outside
    double quotes, and inside them a backslash escapes the next character. ``--require``, not
    ``--import``: node before 18.18 refuses to start at all with ``--import`` in NODE_OPTIONS
    (every node and npm of that shell would break), and a CommonJS preload runs before an ES
    module entry point too."""
    escaped = str(path).replace("\\", "\\\\").replace('"', '\\"')
    return f'--require="{escaped}"'


SHELL_FORMS = {
    "sh": "export {name}={value}",
    "fish": "set -gx {name} {value}",
    "powershell": "$env:{name} = {value}",
}
# Variables a user may already use for other things: ours goes first, theirs is kept after it.
PREPENDED = frozenset({"NODE_OPTIONS"})
PREPEND_FORMS = {
    "sh": 'export {name}={value}"${{{name}:+ ${name}}}"',
    "fish": "set -gx {name} (string join ' ' -- {value} ${name})",
    "powershell": "$env:{name} = ({value} + ' ' + $env:{name}).TrimEnd()",
}
# Each shell's literal string: paths and URLs come out exactly as written, never expanded.
SHELL_QUOTES: dict[str, Callable[[str], str]] = {
    "sh": shlex.quote,
    # fish single quotes: only \\ and \' are escapes.
    "fish": lambda v: "'" + v.replace("\\", "\\\\").replace("'", "\\'") + "'",
    # PowerShell single quotes: fully literal, '' is a quote; a bare URL would be run as a command.
    "powershell": lambda v: "'" + v.replace("'", "''") + "'",
}


def render_exports(exports: dict[str, str], shell: str, *, key_default: str = FAKE_KEY) -> str:
    quote = SHELL_QUOTES[shell]
    lines = [
        (PREPEND_FORMS if k in PREPENDED else SHELL_FORMS)[shell].format(name=k, value=quote(v))
        for k, v in exports.items()
    ]
    key_line = {
        "sh": f'export FAL_KEY="${{FAL_KEY:-{key_default}}}"',
        "fish": f"set -q FAL_KEY; or set -gx FAL_KEY {key_default}",
        "powershell": f"if (-not $env:FAL_KEY) {{ $env:FAL_KEY = '{key_default}' }}",
    }[shell]
    return "\n".join([*lines, key_line])


def parser() -> argparse.ArgumentParser:
    """``ray2-mock``'s arguments: serve, env, and the contract suite's check and record."""
    root = argparse.ArgumentParser(prog="ray2-mock", description=__doc__)
    sub = root.add_subparsers(dest="command", required=True)
    _serve_parser(sub)
    _env_parser(sub)
    contracts_cli.add_parsers(sub)  # check, record: the contract suite (contracts/cli.py)
    return root


def serve_config(args: argparse.Namespace) -> Config:
    """The Config ``serve``'s flags describe; ValueError names a value no Config takes."""
    if args.journal_size < 0:
        raise ValueError("--journal-size cannot be negative (0 turns the journal off)")
    if args.passthrough and not args.passthrough_key:
        raise ValueError("--passthrough needs your real fal key: RAY2_MOCK_PASSTHROUGH_KEY")
    if args.passthrough and args.workers > 1:
        raise ValueError("--passthrough counts its budget in one process: use --workers 1")
    for name in ("retention", "retention_count"):
        value = getattr(args, name)
        if value is not None and value <= 0:
            flag = "--" + name.replace("_", "-")
            raise ValueError(f"{flag} must be positive (leave it out to keep the default)")
    for name in ("log_window", "stream_repeat"):
        value = getattr(args, name)
        if not (math.isfinite(value) and value >= 0):
            flag = "--" + name.replace("_", "-")
            raise ValueError(f"{flag} must be a number of seconds, 0 or more")
    return Config(
        host=args.host,
        port=args.port,
        tls_port=args.tls_port,
        proxy_port=args.proxy_port,
        state_dir=args.state_dir,
        store=args.store,
        timing=args.timing,
        capacity=args.capacity,
        api_key=args.api_key,
        api_keys=load_key_file(args.api_keys) if args.api_keys is not None else (),
        admin_token=args.admin_token,
        max_body_bytes=args.max_body_bytes,
        render_workers=args.render_workers,
        remote_images=args.remote_images,
        validate_at_submit=args.validate_at_submit,
        max_upload_bytes=args.max_upload_bytes,
        webhook_allow=tuple(args.webhook_allow),
        webhook_max_retries=args.webhook_retries,
        webhook_retry_base_seconds=args.webhook_retry_base,
        webhook_retry_max_seconds=args.webhook_retry_max,
        webhook_timeout_seconds=args.webhook_timeout,
        scenarios_path=args.scenarios,
        endpoint_specs=tuple(args.endpoint_specs),
        passthrough=tuple(args.passthrough),
        passthrough_key=args.passthrough_key,
        passthrough_budget=args.passthrough_budget,
        passthrough_upstream=args.passthrough_upstream,
        fault_rate=args.fault_rate,
        seed=args.seed,
        progression=args.progression,
        journal_size=args.journal_size,
        retention_seconds=args.retention,
        retention_count=args.retention_count,
        log_window_seconds=args.log_window,
        stream_repeat_seconds=args.stream_repeat,
    )


def serve_subparser(root: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """``serve``'s own parser inside ``root`` (its flags are what the variables mirror)."""
    sub = next(a for a in root._actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices["serve"]  # type: ignore[no-any-return]


def parse_serve(
    root: argparse.ArgumentParser, argv: Sequence[str] | None, environ: Mapping[str, str]
) -> tuple[argparse.Namespace, FromEnvironment]:
    """``serve``'s arguments with the ``RAY2_MOCK_*`` variables under them: a flag given wins,
    then its variable, then the default. A bad variable exits 2 naming it."""
    serve = serve_subparser(root)
    try:
        found = from_environment(serve, environ)
    except EnvironmentValueError as exc:
        serve.error(str(exc))
    found.apply(serve)
    args = root.parse_args(argv)
    found.fill(serve, args)
    return args, found


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    environ = os.environ if environ is None else environ
    arguments = parser()
    args = arguments.parse_args(argv)
    if args.command in contracts_cli.COMMANDS:
        return contracts_cli.run(args)
    if args.command == "serve":
        args, found = parse_serve(arguments, argv, environ)
        try:
            config = serve_config(args)
        except ValueError as exc:
            # exits 2 with the usage line, never a traceback
            serve_subparser(arguments).error(found.explain(str(exc), serve_subparser(arguments)))
        logging.basicConfig(
            level=args.log_level.upper(), format="%(levelname)s %(name)s: %(message)s"
        )
        config, generated = with_admin_token(config)
        try:
            register_endpoint_specs(config.endpoint_specs)  # a bad document: exit 2, named
            if args.workers > 1:
                if config.scenarios_path:  # every problem listed once, before any worker starts
                    load_file(config.scenarios_path)
                run_workers(
                    config, args.workers, log_level=args.log_level, token_generated=generated
                )
            else:
                run_forever(config, log_level=args.log_level, token_generated=generated)
        except (ScenarioError, SpecError) as exc:
            print(f"ray2-mock: {exc}", file=sys.stderr)
            return 2
        return 0
    if args.from_url is not None:
        return _env_from(args)
    if (args.tls_port, args.proxy_port, args.ca_file) != (None, None, None):
        print(
            "ray2-mock env: --tls-port, --proxy-port and --ca-file go with --from", file=sys.stderr
        )
        return 2
    info = ServerInfo.read(args.state_dir)
    if info is None:
        print(
            f"no running emulator found in {args.state_dir}; start one with:\n"
            f"  {serve_command(args.state_dir)}",
            file=sys.stderr,
        )
        return 1
    if not _answers(info.host, info.port):
        print(
            f"warning: no emulator answers on {info.host}:{info.port} ({args.state_dir}/"
            "server.json is from a run that has stopped); start it again with:\n"
            f"  {serve_command(args.state_dir, info)}",
            file=sys.stderr,
        )
    print(render_exports(env_exports(info, args.mode), args.shell))
    return 0


def _env_from(args: argparse.Namespace) -> int:
    """``env --from URL``: the exports for an emulator reached over the network."""
    from mockserver.serving.env_from import RemoteError, default_ca_file, remote_info, split_url

    try:
        host, port = split_url(args.from_url)
        ca_file = args.ca_file or default_ca_file(args.state_dir, host, port)
        info = remote_info(
            args.from_url, ca_file, tls_port=args.tls_port, proxy_port=args.proxy_port
        )
    except RemoteError as exc:
        print(f"ray2-mock env: {exc}", file=sys.stderr)
        return 1
    reached = _reachable(info.host)
    needed = ("TLS", info.tls_port) if args.mode == "direct" else ("proxy", info.proxy_port)
    if needed[1] is not None and not _answers(info.host, needed[1]):
        print(
            f"warning: nothing answers on {reached}:{needed[1]}, where the exports send fal's "
            f"traffic (the {needed[0]} port): publish it too, or pass --{needed[0].lower()}-port",
            file=sys.stderr,
        )
    if args.mode == "direct" and not is_loopback(info.host):
        print(
            f"warning: direct mode connects to {reached} over TLS, but the emulator's "
            "certificate names only fal's hosts, localhost and 127.0.0.1: use proxy mode "
            "(the default) for a host reached by another name",
            file=sys.stderr,
        )
    print(render_exports(env_exports(info, args.mode), args.shell))
    return 0


def _answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


if __name__ == "__main__":
    raise SystemExit(main())
