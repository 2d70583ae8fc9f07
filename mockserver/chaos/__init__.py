"""Chaos: scenarios (what to break, when), the engine that decides, the middleware that acts."""
