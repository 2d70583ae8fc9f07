"""One or more source mutants per fidelity-ledger row: each breaks that row's behaviour.

A mutant is a literal text replacement (``old`` must occur exactly once in ``path``), so it
stays readable and a refactor that moves the text makes ``tests/unit/test_mutants.py`` fail
instead of silently testing nothing. ``row`` is the ledger row's behaviour cell, verbatim.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Mutant:
    row: str
    path: str
    old: str
    new: str
    breaks: str
    """What a client would see if this shipped: the regression, in one line."""

    def apply(self, source: str) -> str:
        if (found := source.count(self.old)) != 1:
            raise ValueError(f"{self.path}: the mutant's text occurs {found} times, not once")
        return source.replace(self.old, self.new)


MUTANTS: tuple[Mutant, ...] = ()
