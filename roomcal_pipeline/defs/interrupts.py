"""Run a step's asyncio work so that terminating the Dagster run stops it at once.

Dagster terminates a run by interrupting its process (SIGINT; SIGTERM from container
platforms) and, inside a step, its handler raises DagsterExecutionInterruptedError at
whatever line is running. In an event loop that line is often asyncio's own transport
code, which catches the exception as a "fatal write error" and goes on: the run then
keeps extracting for minutes. Here the signals cancel the step's task instead, every
`async with` unwinds (open transactions roll back, connections close), and the step
fails with a Failure that allows no retry: Dagster retries an interrupted step under its
RetryPolicy, which would start the extraction again 30 s after it was terminated.
"""

from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

from dagster import Failure

T = TypeVar("T")
_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def run_interruptibly(work: Coroutine[Any, Any, T]) -> T:
    """asyncio.run(work), cancelled by SIGINT or SIGTERM."""
    if threading.current_thread() is not threading.main_thread():
        return asyncio.run(work)  # signals only reach the main thread

    async def main() -> T:
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        assert task is not None
        received: list[int] = []
        previous = {sig: signal.getsignal(sig) for sig in _SIGNALS}

        def cancel(sig: int) -> None:
            received.append(sig)
            task.cancel()

        for sig in _SIGNALS:
            loop.add_signal_handler(sig, cancel, sig)
        try:
            return await work
        except BaseException:
            # Whatever the cancellation surfaced as (a cancelled query is an OperationalError),
            # a received signal means the run was terminated: no retry, no other failure.
            if received:
                name = signal.Signals(received[0]).name
                raise Failure(
                    f"terminated ({name}): stopped at once; rooms committed before keep "
                    "their rows, the others are as they were",
                    allow_retries=False,
                ) from None
            raise
        finally:
            for sig, handler in previous.items():
                loop.remove_signal_handler(sig)
                signal.signal(sig, handler)

    return asyncio.run(main())
