"""The floor: the cheapest Temporal request/response we can build, to compare sessions against.

``FloorWorkflow`` answers an update by running one trivial activity (or a local activity;
or ``activities`` of them one after the other, the floor of a turn that calls a tool) and
returning the last result, and waits for more. Nothing else: no validation, no memory, no
trimming, no timers.
"""

from dataclasses import dataclass
from datetime import timedelta

from temporalio import activity, workflow


@dataclass
class Ping:
    """One floor request."""

    text: str
    local: bool = False
    activities: int = 1


@activity.defn(name="floor_echo")
async def floor_echo(text: str) -> str:
    """The trivial activity."""
    return f"echo: {text}"


@workflow.defn(name="FloorWorkflow")
class FloorWorkflow:
    """One update, one activity, one reply."""

    def __init__(self) -> None:
        """No state but a stop flag."""
        self._done = False

    @workflow.run
    async def run(self) -> None:
        """Serve updates until told to stop."""
        await workflow.wait_condition(lambda: self._done)

    @workflow.update
    async def ping(self, request: Ping) -> str:
        """Run the trivial activity (local or not) and return its result."""
        if request.local:
            return await workflow.execute_local_activity(
                floor_echo, request.text, start_to_close_timeout=timedelta(seconds=10)
            )
        result = request.text
        for _ in range(max(1, request.activities)):
            result = await workflow.execute_activity(
                floor_echo, request.text, start_to_close_timeout=timedelta(seconds=10)
            )
        return result

    @workflow.signal
    def stop(self) -> None:
        """End the run."""
        self._done = True
