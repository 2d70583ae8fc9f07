"""A Hypothesis state machine over submit / status / stream / result / cancel / time.

Several requests live at once; Hypothesis picks which one each step touches and in what
order, so interleavings nobody writes by hand (cancel while another request streams, result
asked twice, a poll without logs between two with logs) are tried and shrunk on failure.
Every answer goes through the same ``checks`` as the linear suite, and each request's
``Lifecycle`` enforces what may follow what. Against the emulator it runs on its clock
(``advance`` moves it); against live it charges the budget and waits in real time.
"""

from __future__ import annotations

from functools import cache
from typing import Any, ClassVar

import httpx
from hypothesis import settings as Settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    precondition,
    rule,
    run_state_machine_as_test,
)

from contracts.generation.strategies import (
    ENDPOINT_IDS,
    INPUT_SCHEMAS,
    mp4_data_uri,
    png_data_uri,
    valid_inputs,
)
from contracts.schemas import load_schema
from contracts.server import flows
from contracts.server.checks import check_result
from contracts.server.targets import Target

MAX_REQUESTS = 4
PROMPTS = st.sampled_from(["state machine one", "state machine two"])
"""Two prompts and one cheap geometry: the machine is about the lifecycle, so the emulator's
render cache serves almost every request (geometry is the enum and generated cases' job)."""
CHEAP = {
    "resolution": st.just("540p"),
    "duration": st.just("5s"),
    "aspect_ratio": st.just("16:9"),
    "loop": st.just(False),
}


def _cheap(endpoint: str) -> dict[str, st.SearchStrategy[Any]]:
    properties = load_schema(INPUT_SCHEMAS[endpoint])["properties"]
    return {name: value for name, value in CHEAP.items() if name in properties}


@cache
def _inputs(endpoints: tuple[str, ...]) -> st.SearchStrategy[tuple[str, dict[str, Any]]]:
    image, video = st.just(png_data_uri()), st.just(mp4_data_uri())
    return st.sampled_from(endpoints).flatmap(
        lambda e: st.tuples(
            st.just(e),
            valid_inputs(e, prompts=PROMPTS, images=image, videos=video, overrides=_cheap(e)),
        )
    )


class RequestMachine(RuleBasedStateMachine):
    """Bind ``target``, ``http`` and ``endpoints`` in a subclass (``run_machine`` does)."""

    target: ClassVar[Target]
    http: ClassVar[httpx.Client]
    endpoints: ClassVar[tuple[str, ...]] = ENDPOINT_IDS
    requests = Bundle("requests")

    def __init__(self) -> None:
        super().__init__()
        self.handles: list[flows.Handle] = []

    @precondition(lambda self: len(self.handles) < MAX_REQUESTS and self.target.budget.can_spend(1))
    @rule(target=requests, data=st.data())
    def submit(self, data: st.DataObject) -> flows.Handle:
        endpoint_id, arguments = data.draw(_inputs(self.endpoints), label="request")
        handle = flows.submit(self.target, self.http, endpoint_id, arguments)
        self.handles.append(handle)
        return handle

    @rule(handle=requests, with_logs=st.booleans())
    def poll(self, handle: flows.Handle, with_logs: bool) -> None:
        flows.status(self.http, handle, with_logs=with_logs)

    @rule(handle=requests)
    def stream(self, handle: flows.Handle) -> None:
        """A finished request's stream is read whole; a live one only to its first event."""
        if handle.life.completed is not None:
            flows.stream(self.http, handle)
        else:
            flows.first_stream_event(self.http, handle)

    @rule(handle=requests)
    def result(self, handle: flows.Handle) -> None:
        response = flows.result(self.http, handle)
        if response.status_code == 200:
            check_result(response, handle.request_id)

    @rule(handle=requests)
    def cancel(self, handle: flows.Handle) -> None:
        flows.cancel(self.http, handle)

    @rule(seconds=st.sampled_from([0.2, 0.5, 1.0, 3.0]))
    def let_time_pass(self, seconds: float) -> None:
        if self.target.advance is not None:
            self.target.advance(seconds)
        else:
            self.target.pause()

    def teardown(self) -> None:
        """Every request must finish, and a finished one answers its result consistently."""
        for handle in self.handles:
            flows.wait_completed(self.target, self.http, handle)
            response = flows.result(self.http, handle)
            if handle.life.cancel_outcome is None:  # valid input, not cancelled: a video
                check_result(response, handle.request_id)
            handle.life.finish()


def run_machine(
    target: Target, settings: Settings, *, endpoints: tuple[str, ...] = ENDPOINT_IDS
) -> str:
    """Run the machine against ``target`` with ``settings`` (examples = runs of the machine);
    each submit picks one of ``endpoints`` (the whole family by default)."""
    with target.http() as http:
        bound = {"target": target, "http": http, "endpoints": tuple(endpoints)}
        machine = type("BoundRequestMachine", (RequestMachine,), bound)
        run_state_machine_as_test(machine, settings=settings)
    return f"{settings.max_examples} run(s) of up to {settings.stateful_step_count} steps"
