"""Moved to ``contracts.client.adapters``; the old path still works, as the very same module
(CHANGELOG.md, "contracts/ by concern")."""

import sys

from contracts.client import adapters as _moved

sys.modules[__name__] = _moved
