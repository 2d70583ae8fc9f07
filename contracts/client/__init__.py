"""Judging a client: adapters that make any client perform a call, and the checks of its traffic."""
