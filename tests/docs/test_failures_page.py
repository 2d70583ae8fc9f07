"""The failures page's scenario file is valid, read as `serve --scenarios` reads it."""

from __future__ import annotations

from pathlib import Path

from mockserver.chaos.parse import load_file
from tests.support import REPO_ROOT


def test_the_example_scenario_file_is_valid(tmp_path: Path) -> None:
    page = (REPO_ROOT / "docs" / "failures.md").read_text(encoding="utf-8")
    example = page[page.index("```yaml\n") + len("```yaml\n") :]
    example = example[: example.index("```")]
    (tmp_path / "fixtures").mkdir()
    (tmp_path / "fixtures" / "demo.mp4").write_bytes(b"\x00\x00\x00\x18ftypisom")
    path = tmp_path / "failures.yaml"
    path.write_text(example)
    document = load_file(path)
    assert document.seed == 7 and document.fault_rates == {
        "run_429": 0.02,
        "poll_502_ingress": 0.01,
    }
    assert len(document.scenarios) == 8
    assert document.scenarios[-1].match.routes == {"stream"}
