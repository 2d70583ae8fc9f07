"""Every mutant of every ledger section (``tests/mutation/rows/*.py``), in section order."""

from __future__ import annotations

import pkgutil
from importlib import import_module

from tests.mutation import rows
from tests.mutation.mutant import Mutant

MUTANTS: tuple[Mutant, ...] = tuple(
    mutant
    for module in pkgutil.iter_modules(rows.__path__)
    for mutant in import_module(f"{rows.__name__}.{module.name}").MUTANTS
)
