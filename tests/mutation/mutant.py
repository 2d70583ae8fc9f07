"""A source mutant: a literal text replacement that breaks one ledger row's behaviour."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Mutant:
    row: str
    """The ledger row's behaviour cell, verbatim."""
    path: str
    old: str
    """Text that occurs exactly once in ``path``: a refactor that moves it fails the ledger
    test instead of silently testing nothing."""
    new: str
    breaks: str
    """What a client would see if this shipped: the regression, in one line."""

    def apply(self, source: str) -> str:
        if (found := source.count(self.old)) != 1:
            raise ValueError(f"{self.path}: the mutant's text occurs {found} times, not once")
        return source.replace(self.old, self.new)
