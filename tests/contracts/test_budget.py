"""The live budget: paid generations are charged in cost units and skipped once it runs out."""

from __future__ import annotations

import pytest

from contracts.generation.profiles import profile_settings
from contracts.generation.strategies import T2V, covering_inputs, mp4_data_uri
from contracts.server.suite import CASES, SuiteContext, _affordable, run_case
from contracts.server.targets import Budget, BudgetExhausted, Target


def test_budget_counts_cost_units() -> None:
    target = Target(
        "live", "http://127.0.0.1:9", "http://127.0.0.1:9", "k", live=True, budget=Budget(limit=5)
    )
    assert target.charge(T2V, {"prompt": "x prompt"}) == 1
    assert target.charge(T2V, {"prompt": "x prompt", "resolution": "1080p"}) == 4
    with pytest.raises(BudgetExhausted, match="costs 2 unit"):
        target.charge(T2V, {"prompt": "x prompt", "duration": "9s"})
    assert target.budget.spent == 5


def test_a_per_second_price_is_charged_the_input_videos_started_seconds() -> None:
    """Reframe/modify: a data: URI is read back (2 s: 2 units); a URL the budget cannot read
    counts as the longest input Ray 2 takes (10 s), so the budget stays an upper bound."""
    reframe = "fal-ai/luma-dream-machine/ray-2-flash/reframe"
    target = Target("live", "", "", "k", live=True, budget=Budget(limit=20))
    clip = {"video_url": mp4_data_uri(96, 54, 2.0), "aspect_ratio": "9:16"}
    assert target.charge(reframe, clip) == 2
    remote = {**clip, "video_url": "https://v3b.fal.media/files/b/0a/clip_output.mp4"}
    assert target.cost(reframe, remote) == 10
    assert target.cost(reframe, {"aspect_ratio": "9:16"}) == 0  # rejected: nothing billed
    assert target.cost("fal-ai/luma-dream-machine/ray-2-flash", {"prompt": "flash"}) == 1


def test_covering_inputs_are_cut_to_what_the_budget_affords() -> None:
    target = Target("live", "", "", "k", live=True, budget=Budget(limit=5))
    ctx = SuiteContext(target, profile_settings("live"), http=None)  # type: ignore[arg-type]
    rows = covering_inputs(T2V)
    assert sorted(target.cost(T2V, a) for a in rows) == [1, 1, 1, 2, 2, 4]
    chosen = _affordable(ctx, T2V, rows)
    assert [target.cost(T2V, a) for a in chosen] == [1, 1, 1, 2]  # cheapest first, <= 5


@pytest.mark.parametrize(
    "name",
    [
        "enum_coverage[t2v]",
        "generated_inputs[t2v]",
        "generated_inputs[reframe]",
        "status_stream",
        "cancel_semantics",
        "sync_run[t2v]",
        "sync_run[flash-modify]",
        "stateful",
    ],
)
def test_paid_cases_are_skipped_not_run_without_budget(name: str) -> None:
    """Nothing listens at the target's address: a case that sent a request would fail."""
    target = Target(
        "live",
        "http://127.0.0.1:9",
        "http://127.0.0.1:9/run",
        "k",
        live=True,
        budget=Budget(limit=0),
    )
    case = next(c for c in CASES if c.name == name)
    with target.http() as http:
        result = run_case(case, SuiteContext(target, profile_settings("live"), http))
    assert result.outcome == "skipped", result.line()
    assert "budget" in result.detail
