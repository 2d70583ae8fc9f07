"""Judging a server: the checks, the request flows, the stateful machine, the suite and the
targets it points at."""
