"""The whole contract suite against the in-process emulator (``--ray2-target`` picks another)."""

from contracts.suite_tests import test_contract  # noqa: F401  (collected here)
