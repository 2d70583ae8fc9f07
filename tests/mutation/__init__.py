"""Mutation harness: proves each fidelity-ledger row can fail.

For every row of ``docs/fidelity.md`` at least one source mutant (``mutants.py``) breaks
exactly that behaviour; ``make mutate`` applies each mutant to a copy of the tree and runs the
row's named tests there. A row is held only if its own tests kill every mutant aimed at it.
"""
