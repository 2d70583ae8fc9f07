"""Moved to ``contracts.generation.strategies``; the old path still works, as the very same module
(CHANGELOG.md, "contracts/ by concern")."""

import sys

from contracts.generation import strategies as _moved

sys.modules[__name__] = _moved
