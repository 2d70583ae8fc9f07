"""The contract suite as pytest tests, one per case (see ``contracts.pytest_options``).

Run it anywhere ray2-mock is installed: ``pytest --pyargs contracts.suite_tests
--ray2-target=mock|live|URL``.
"""

from __future__ import annotations

import pytest

from contracts.netfail import Unreachable
from contracts.suite import CASE_NAMES, CASES, SuiteContext, run_case


@pytest.mark.parametrize("case_name", CASE_NAMES)
def test_contract(ray2_target, ray2_profile: str, case_name: str, tmp_path) -> None:
    from contracts.profiles import profile_settings

    case = next(c for c in CASES if c.name == case_name)
    with ray2_target.http() as http:
        ctx = SuiteContext(ray2_target, profile_settings(ray2_profile), http, tmp_path)
        try:
            result = run_case(case, ctx)
        except Unreachable as exc:  # live fal unreachable: one line, not a traceback
            pytest.fail(str(exc), pytrace=False)
    if result.outcome == "skipped":
        pytest.skip(result.detail)
    if result.outcome == "failed":
        pytest.fail(result.detail, pytrace=False)
