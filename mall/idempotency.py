"""Writes that happen once per key, also when two workers race on the same key.

The UNIQUE constraint is the guarantee: each writer inserts, and the one that loses the race
gets an IntegrityError. Writing in a savepoint means only that insert is undone, so the
caller's transaction carries on and can return the row the other writer made (a replay).
Callers usually look the key up first too; that is just the cheap path for a plain replay.
"""
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.exc import IntegrityError

from .extensions import db

T = TypeVar("T")


def insert_once(write: Callable[[], T], find_existing: Callable[[], T | None] | None = None
                ) -> tuple[T | None, bool]:
    """Run `write` (which adds, and may flush, the keyed rows) in a savepoint; returns
    (what it returned, True). If a constraint refuses the write, the savepoint is rolled
    back and the result is (find_existing(), False): the earlier row. When find_existing
    finds nothing the failure was not a replay, and the IntegrityError is raised again.
    Without find_existing the refused write is simply skipped: (None, False)."""
    try:
        with db.session.begin_nested():
            return write(), True
    except IntegrityError:
        if find_existing is None:
            return None, False
        existing = find_existing()
        if existing is None:
            raise
        return existing, False
