"""``make mutate``: every ledger row's mutants against the row's own named tests.

Each worker copies the tree once (tracked and untracked files, the JS client's node_modules
linked), then for each mutant writes the changed file, runs ``pytest -x`` on the row's named
tests inside the copy and puts the file back. pytest's exit code 1 (a test failed) kills the
mutant; 0 lets it survive; anything else (a collection error, a timeout) is reported as an
error, never as a kill. One line per row, then ``N of M ledger rows killed``; the exit status
is 0 only when every row is killed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from queue import Queue

from tests.mutation.ledger import REPO_ROOT, LedgerRow, ledger_rows
from tests.mutation.mutant import Mutant
from tests.mutation.mutants import MUTANTS

RUN_TIMEOUT = 900
"""Seconds one pytest run may take before it counts as an error (the slowest named test
takes under a minute)."""


@dataclass(frozen=True)
class Outcome:
    mutant: Mutant
    verdict: str  # "killed", "survived" or "error"
    seconds: float
    tail: str


def tree_files(root: Path) -> list[str]:
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=root,
        capture_output=True,
        check=True,
    ).stdout
    return [name for name in listed.decode().split("\0") if name and (root / name).is_file()]


@contextmanager
def tree_copy(root: Path) -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="ray2-mutate-") as scratch:
        copy = Path(scratch) / "tree"
        for name in tree_files(root):
            target = copy / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(root / name, target)
        modules = root / "tests" / "js" / "node_modules"
        if modules.is_dir():
            (copy / "tests" / "js" / "node_modules").symlink_to(modules)
        yield copy


def run_mutant(copy: Path, mutant: Mutant, tests: tuple[str, ...]) -> Outcome:
    source = copy / mutant.path
    original = source.read_text("utf-8")
    source.write_text(mutant.apply(original), "utf-8")
    env = {**os.environ, "PYTHONPATH": str(copy), "PYTHONDONTWRITEBYTECODE": "1"}
    command = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *tests]
    started = time.monotonic()
    try:
        done = subprocess.run(
            command, cwd=copy, env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT
        )
        code, output = done.returncode, done.stdout + done.stderr
    except subprocess.TimeoutExpired:
        code, output = -1, f"timed out after {RUN_TIMEOUT} s"
    finally:
        source.write_text(original, "utf-8")
    verdict = {0: "survived", 1: "killed"}.get(code, "error")
    return Outcome(mutant, verdict, time.monotonic() - started, output[-2000:])


def row_line(row: LedgerRow, outcomes: list[Outcome]) -> str:
    verdicts = [o.verdict for o in outcomes]
    state = "killed" if verdicts and all(v == "killed" for v in verdicts) else "SURVIVED"
    if not outcomes:
        state = "NO MUTANT"
    elif "error" in verdicts and "survived" not in verdicts:
        state = "ERROR"
    tally = f"{verdicts.count('killed')}/{len(verdicts)} mutants killed"
    return f"{state:9} {row.behaviour[:70]:70} {tally}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make mutate", description=__doc__)
    parser.add_argument("--row", default="", help="only rows whose behaviour contains this")
    parser.add_argument("-j", "--jobs", type=int, default=2, help="parallel workers")
    parser.add_argument("-v", "--verbose", action="store_true", help="print each mutant")
    args = parser.parse_args(argv)

    rows = [row for row in ledger_rows() if args.row.lower() in row.behaviour.lower()]
    work: list[tuple[Mutant, tuple[str, ...]]] = [
        (mutant, row.tests) for row in rows for mutant in MUTANTS if mutant.row == row.behaviour
    ]
    copies: Queue[Path] = Queue()
    outcomes: dict[str, list[Outcome]] = {row.behaviour: [] for row in rows}
    started = time.monotonic()
    with ExitStack() as stack:
        for _ in range(max(args.jobs, 1)):
            copies.put(stack.enter_context(tree_copy(REPO_ROOT)))

        def one(item: tuple[Mutant, tuple[str, ...]]) -> Outcome:
            copy = copies.get()
            try:
                return run_mutant(copy, *item)
            finally:
                copies.put(copy)

        with ThreadPoolExecutor(args.jobs) as pool:
            for outcome in pool.map(one, work):
                outcomes[outcome.mutant.row].append(outcome)
                if args.verbose or outcome.verdict != "killed":
                    print(
                        f"  {outcome.verdict:8} {outcome.mutant.path}: {outcome.mutant.breaks}"
                        f" ({outcome.seconds:.0f} s)",
                        flush=True,
                    )
                    if outcome.verdict == "error":
                        print("    " + outcome.tail.strip().replace("\n", "\n    "), flush=True)
    killed = 0
    for row in rows:
        line = row_line(row, outcomes[row.behaviour])
        killed += line.startswith("killed")
        print(line)
    minutes = (time.monotonic() - started) / 60
    print(f"{killed} of {len(rows)} ledger rows killed ({len(work)} mutants, {minutes:.1f} min)")
    return 0 if killed == len(rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
