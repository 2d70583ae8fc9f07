"""Moved to ``contracts.pytest.suite_tests``; the old path still works, as the very same module
(CHANGELOG.md, "contracts/ by concern")."""

import sys

from contracts.pytest import suite_tests as _moved

sys.modules[__name__] = _moved
