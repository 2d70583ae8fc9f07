"""Mutants by ledger section: each module holds a ``MUTANTS`` tuple for its section's rows."""
