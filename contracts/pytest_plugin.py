"""Moved to ``contracts.pytest.plugin``; the old path still works, as the very same module
(CHANGELOG.md, "contracts/ by concern")."""

import sys

from contracts.pytest import plugin as _moved

sys.modules[__name__] = _moved
