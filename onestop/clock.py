"""Server time, the only time an operation may record.

Operations never accept a timestamp from the caller: they ask `now()`. Tests and the demo seeder
replace the clock for a block of code with `frozen_at(...)`/`use_clock(...)`; nothing reachable
from a request can.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

_clock: contextvars.ContextVar[Callable[[], datetime] | None] = contextvars.ContextVar(
    "onestop_clock", default=None
)


def now() -> datetime:
    """The current instant, timezone-aware (UTC unless a test clock says otherwise)."""
    clock = _clock.get()
    instant = clock() if clock else datetime.now(UTC)
    if instant.tzinfo is None:
        raise ValueError("the clock returned a naive datetime")
    return instant


@contextlib.contextmanager
def use_clock(clock: Callable[[], datetime]) -> Iterator[None]:
    token = _clock.set(clock)
    try:
        yield
    finally:
        _clock.reset(token)


class SettableClock:
    """A clock that stands still until moved; for tests and the seeder."""

    def __init__(self, instant: datetime) -> None:
        self.set(instant)

    def set(self, instant: datetime) -> None:
        if instant.tzinfo is None:
            raise ValueError("naive datetime: give the clock an aware instant")
        self.instant = instant

    def __call__(self) -> datetime:
        return self.instant


@contextlib.contextmanager
def frozen_at(instant: datetime) -> Iterator[SettableClock]:
    clock = SettableClock(instant)
    with use_clock(clock):
        yield clock
