"""The contract suite as pytest tests, one per case (see ``contracts.pytest.options``).

Run it anywhere ray2-mock is installed: ``pytest --pyargs contracts.pytest.suite_tests
--ray2-target=mock|live|URL``.
"""

from __future__ import annotations

import pytest

from contracts.server.netfail import Unreachable
from contracts.server.suite import CASE_NAMES, CASES, SuiteContext, run_case


@pytest.mark.parametrize("case_name", CASE_NAMES)
def test_contract(
    ray2_target, ray2_profile: str, ray2_endpoints: tuple[str, ...], case_name: str, tmp_path
) -> None:
    from contracts.generation.profiles import profile_settings

    case = next(c for c in CASES if c.name == case_name)
    if case.endpoint is not None and case.endpoint not in ray2_endpoints:
        pytest.skip(f"{case.endpoint} not chosen (--ray2-endpoint)")
    with ray2_target.http() as http:
        settings = profile_settings(ray2_profile)
        ctx = SuiteContext(ray2_target, settings, http, tmp_path, ray2_endpoints)
        try:
            result = run_case(case, ctx)
        except Unreachable as exc:  # live fal unreachable: one line, not a traceback
            pytest.fail(str(exc), pytrace=False)
    if result.outcome == "skipped":
        pytest.skip(result.detail)
    if result.outcome == "failed":
        pytest.fail(result.detail, pytrace=False)
