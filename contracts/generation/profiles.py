"""Hypothesis settings profiles for the contract suite: ``ci``, ``dev`` and ``live``.

``ci`` is deterministic (derandomized, no example database), small and does not shrink, so
``make test`` is fast and a failure reproduces exactly; ``dev`` explores more and remembers
failures in ``.hypothesis/`` (git-ignored); ``live`` spends as few paid generations as possible.
Select one with ``ray2-mock check --profile NAME`` or pytest's ``--ray2-profile NAME``.
"""

from __future__ import annotations

from hypothesis import HealthCheck, Phase, settings
from hypothesis.database import DirectoryBasedExampleDatabase

PROFILES: dict[str, dict[str, object]] = {
    "ci": dict(
        max_examples=3,
        stateful_step_count=10,
        derandomize=True,
        database=None,
        deadline=None,
        print_blob=True,
        report_multiple_bugs=False,
        # No shrinking: every shrink step re-runs requests and renders. The failure is
        # reported as found, with a blob to replay and shrink it locally under `dev`.
        phases=[Phase.explicit, Phase.reuse, Phase.generate],
    ),
    "dev": dict(
        max_examples=25,
        stateful_step_count=30,
        database=DirectoryBasedExampleDatabase(".hypothesis/examples"),
        deadline=None,
    ),
    "live": dict(
        max_examples=1,
        stateful_step_count=6,
        derandomize=True,
        database=None,
        deadline=None,
        print_blob=True,
        report_multiple_bugs=False,
        phases=[Phase.explicit, Phase.generate],  # a shrink step could cost a generation
    ),
}
# Network round trips and video renders dominate every example; these health checks only
# measure that, so they would fail for the wrong reason.
SUPPRESSED = [HealthCheck.too_slow, HealthCheck.function_scoped_fixture]


def register_profiles() -> None:
    for name, options in PROFILES.items():
        settings.register_profile(name, suppress_health_check=SUPPRESSED, **options)


def profile_settings(name: str) -> settings:
    register_profiles()
    if name not in PROFILES:
        raise ValueError(f"unknown Hypothesis profile {name!r}; choose from {sorted(PROFILES)}")
    return settings.get_profile(name)


register_profiles()
