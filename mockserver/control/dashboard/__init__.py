"""Web dashboard at ``/_mock/ui``: live requests, video previews, a playground, control panels.

A static page (no build step, no CDN) that reads the JSON in ``routes.py`` and drives the
emulator only through its public APIs: the queue API for submissions, ``/_mock`` for control.
"""

from mockserver.control.dashboard.routes import UI_PATH, dashboard_routes

__all__ = ["UI_PATH", "dashboard_routes"]
