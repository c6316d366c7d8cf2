"""Small helpers shared by the SQL repositories."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import overload

from sqlalchemy import exc

from carekey.errors import Conflict


@overload
def utc(value: datetime) -> datetime: ...
@overload
def utc(value: None) -> None: ...
@overload
def utc(value: datetime | None) -> datetime | None: ...
def utc(value: datetime | None) -> datetime | None:
    """SQLite returns naive datetimes; every datetime in carekey is UTC-aware."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@contextmanager
def conflict_on_duplicate(message: Callable[[], str]) -> Iterator[None]:
    try:
        yield
    except exc.IntegrityError as err:
        raise Conflict(message()) from err
