"""Rules the suite keeps about itself: the import layers hold, and CI cannot skip quietly."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parents[2]
pytest_plugins = ["pytester"]


def test_import_contracts_are_kept() -> None:
    lint = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    assert lint, "import-linter is a test dependency (pyproject.toml)"
    done = subprocess.run([lint], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout[-3000:]
    assert "0 broken" in done.stdout


def test_a_skip_for_a_required_tool_fails_under_ci(pytester: pytest.Pytester) -> None:
    """The conftest hook: the same skip passes locally and fails when CI=true."""
    pytester.makeconftest("from tests.conftest import pytest_runtest_makereport  # noqa: F401")
    pytester._monkeypatch.setenv("PYTHONPATH", str(ROOT))
    pytester._monkeypatch.delenv("CI", raising=False)
    pytester.makepyfile(
        test_tool="""
        import pytest

        def test_needs_a_tool():
            pytest.skip("[required tool] the-tool is not installed")

        def test_optional():
            pytest.skip("fish is not installed here")
        """
    )
    local = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    local.assert_outcomes(skipped=2)
    pytester._monkeypatch.setenv("CI", "true")  # the CI job's setting (.ci/run sets it too)
    strict = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    strict.assert_outcomes(failed=1, skipped=1)


def strongly_connected(graph: grimp.ImportGraph) -> list[list[str]]:
    """Tarjan's strongly connected groups of more than one module: the import circles."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for imported in graph.find_modules_directly_imported_by(module):
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in on_stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == module:
                    break
            if len(group) > 1:
                circles.append(sorted(group))

    for module in sorted(graph.modules):
        if module not in index:
            visit(module)
    return circles


def test_no_import_circles() -> None:
    """No module of ``mockserver`` or ``contracts`` imports, however indirectly, a module that
    imports it back (imports made for the type checker only do not run, so they do not count).
    A circle ties modules into one piece that can only change together."""
    graph = grimp.build_graph("mockserver", "contracts", exclude_type_checking_imports=True)
    assert strongly_connected(graph) == []
