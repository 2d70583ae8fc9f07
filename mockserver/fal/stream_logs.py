"""Which log lines a status stream still owes its client.

A stream event carries only the lines that are new since the previous event (fal's captured
stream). The lines a poll shows sit in a moving time window, so a position in that list says
nothing about what was sent: lines are known by identity, the ``(timestamp, message)`` pair
fal's own CLI dedupes on.
"""

from __future__ import annotations

from typing import Any

from mockserver.records import RequestRecord

LineKey = tuple[Any, ...]


def line_key(line: dict[str, Any]) -> LineKey:
    return (line["timestamp"], line["message"])


class StreamLogs:
    """The lines sent so far on one stream connection.

    On connecting, the client is owed what a poll would show (the window); after that, every
    line that arrives, each once, even if it left the window before the stream looked again
    (a live stream sends lines as they come, and a jump of the emulated clock stands for time
    it would have lived through)."""

    def __init__(self, window_seconds: float) -> None:
        self.window_seconds = window_seconds
        self._sent: set[LineKey] | None = None

    def fresh(self, record: RequestRecord, now: float) -> list[dict[str, Any]]:
        """The lines not sent yet, in time order; from now on they count as sent."""
        arrived = record.visible_logs(now)  # every line whose time has come
        if self._sent is None:
            owed = {line_key(line) for line in record.polled_logs(now, self.window_seconds)}
            self._sent = {key for line in arrived if (key := line_key(line)) not in owed}
        lines = [line for line in arrived if line_key(line) not in self._sent]
        self._sent.update(line_key(line) for line in lines)
        return lines
