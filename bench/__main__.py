"""Run every `bench/bench_*.py` module's `run()` and write their results to bench/results.json.

Ends with a compact summary: the lines of each module that defines `summary_lines(result)`.

Usage: python -m bench [--only NAME ...] [--out PATH]
"""

from __future__ import annotations

import argparse
import datetime
import importlib
import json
import os
import platform
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--only", action="append", default=[], help="module name, e.g. bench_media")
    parser.add_argument("--out", type=Path, default=HERE / "results.json")
    args = parser.parse_args(argv)
    names = sorted(p.stem for p in HERE.glob("bench_*.py"))
    if args.only:
        unknown = set(args.only) - set(names)
        if unknown:
            parser.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}")
        names = [n for n in names if n in args.only]
    results: dict = {
        "started": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "load_average_before": list(os.getloadavg()),
        "benchmarks": {},
    }
    summaries: list[str] = []
    for name in names:
        print(f"== {name}", flush=True)
        started = time.perf_counter()
        module = importlib.import_module(f"bench.{name}")
        results["benchmarks"][name] = module.run()
        print(f"== {name} done in {time.perf_counter() - started:.1f} s", flush=True)
        if hasattr(module, "summary_lines"):
            summaries += module.summary_lines(results["benchmarks"][name])
    results["load_average_after"] = list(os.getloadavg())
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    if summaries:
        load = ", ".join(f"{x:.1f}" for x in results["load_average_after"])
        print(f"== summary ({results['cpus']} cores, load average after {load})")
        print("\n".join(summaries))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
