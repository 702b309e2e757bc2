"""A worker's background parts that talk to the broker on their own (DCSA out's
subscriptions, feed and deliverers; the forecasts' clearance feed): one that fails, a
broker away say, is logged and started again a few seconds later. An exception out of
a faust task crashes the whole app, so none may leave through one."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

__all__ = ["Restarting"]


class Restarting:
    """Runs ``run()`` until it returns; a failure is logged on ``log`` with ``what``
    failed, and ``run()`` called again ``retry_after`` seconds later (``restarts``
    counts them)."""

    def __init__(
        self,
        what: str,
        run: Callable[[], Awaitable[None]],
        log: logging.Logger,
        *,
        retry_after: float = 5.0,
    ) -> None:
        self.what = what
        self._run = run
        self.log = log
        self.retry_after = retry_after
        self.restarts = 0

    async def run(self) -> None:
        while True:
            try:
                await self._run()
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # logged, and the part starts again
                self.log.error(
                    "%s stopped (%s: %s); starting again in %g s",
                    self.what,
                    type(exc).__name__,
                    exc,
                    self.retry_after,
                )
            self.restarts += 1
            await asyncio.sleep(self.retry_after)
