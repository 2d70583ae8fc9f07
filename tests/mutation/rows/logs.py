"""Mutants of the ledger's "Status, logs, result" rows about logs, the status stream and
``metrics.inference_time``."""

from tests.mutation.mutant import Mutant

ENTRIES = "Log entries"
WHAT = "What the logs say"
POLLED = "Polled logs over time"
LOGS_OFF = "Logs off"
INFERENCE = "`metrics.inference_time`"
STREAM = "Status stream"

MUTANTS = (
    Mutant(
        row=ENTRIES,
        path="mockserver/queue.py",
        old='isoformat(timespec="microseconds")',
        new='isoformat(timespec="milliseconds")',
        breaks="log timestamps carry milliseconds, not the captured six digits",
    ),
    Mutant(
        row=ENTRIES,
        path="mockserver/queue.py",
        old='"labels": {}, "at": at}',
        new='"labels": {}, "level": "INFO", "at": at}',
        breaks="log entries gain a level the live capture does not have",
    ),
    Mutant(
        row=WHAT,
        path="mockserver/queue.py",
        old="record.logs.append(log_line(at, ENDPOINTS[record.endpoint_id].facts.finished_log))",
        new=(
            "record.logs += [log_line(at, n) for n in"
            " (ENDPOINTS[record.endpoint_id].facts.finished_log, *production.notes)]"
        ),
        breaks="the emulator's own notes (placeholder images) show up as the model's log lines",
    ),
    Mutant(
        row=POLLED,
        path="mockserver/config.py",
        old="log_window_seconds: float = 300.0",
        new="log_window_seconds: float = 600.0",
        breaks="polls keep answering lines older than fal's five minutes",
    ),
    Mutant(
        row=POLLED,
        path="mockserver/records.py",
        old="end = now if self.completed_at is None else min(now, self.completed_at)",
        new="end = now",
        breaks="a finished request's window keeps moving with the clock and empties",
    ),
    Mutant(
        row=POLLED,
        path="mockserver/records.py",
        old='return [line for line in self.logs if start <= line["at"] <= end]',
        new='return [line for line in self.logs if line["at"] <= end]',
        breaks="every line so far is answered: a positional log cursor never stalls as live",
    ),
    Mutant(
        row=POLLED,
        path="contracts/server/lifecycle.py",
        old="if known != [key for key in self.logs if key in known]:",
        new="if known != self.logs[: len(known)]:",
        breaks="the contract suite rejects fal's moving log window as lines going missing",
    ),
    Mutant(
        row=LOGS_OFF,
        path="mockserver/fal/api.py",
        old='"logs": None if logs is None else public_lines(logs),',
        new='"logs": public_lines(logs or []),',
        breaks="a status without ?logs=1 answers a list instead of null",
    ),
    Mutant(
        row=INFERENCE,
        path="mockserver/records.py",
        old="return self.completed_at - self.started_at  # unrounded",
        new="return round(self.completed_at - self.started_at, 3)  # unrounded",
        breaks="inference_time is rounded to milliseconds; live sends the raw float",
    ),
    Mutant(
        row=STREAM,
        path="mockserver/fal/api.py",
        old="ping_message_factory=fal_ping,",
        new="",
        breaks="keep-alive comments read ': ping - <date>', not fal's ': ping'",
    ),
    Mutant(
        row=STREAM,
        path="mockserver/fal/api.py",
        old="if state != last or fresh or (repeat and quiet_for >= repeat):",
        new="if state != last or fresh:",
        breaks="the stream goes silent between changes instead of repeating the status",
    ),
    Mutant(
        row=STREAM,
        path="mockserver/fal/api.py",
        old='yield {"data": json.dumps(body)}',
        new='yield {"data": json.dumps(body, separators=(",", ":"))}',
        breaks="stream events are compact JSON, not json.dumps spacing",
    ),
    Mutant(
        row=STREAM,
        path="mockserver/fal/stream_logs.py",
        old="arrived = record.visible_logs(now)",
        new="arrived = record.polled_logs(now, self.window_seconds)",
        breaks="lines that leave the window between two looks are never streamed",
    ),
    Mutant(
        row=STREAM,
        path="mockserver/config.py",
        old="stream_keepalive_seconds: float = 15.0",
        new="stream_keepalive_seconds: float = 30.0",
        breaks="keep-alive comments every 30 s, not fal's 15",
    ),
    Mutant(
        row=STREAM,
        path="mockserver/config.py",
        old="stream_repeat_seconds: float = 5.0",
        new="stream_repeat_seconds: float = 20.0",
        breaks="the unchanged status is repeated far less often than the capture shows",
    ),
)
