"""The registry of invariant checks that `flask mall audit` runs (DESIGN.md).

Each domain's audit.py registers its checks here when it is imported (create_app imports
them all); this module knows no domain. Each check is one SQL query returning the offending
rows, so it runs in the database even over millions of entries. `flask mall audit` prints
them and exits non-zero on any.
"""
from dataclasses import dataclass

from sqlalchemy import text

from .extensions import db


@dataclass(frozen=True)
class Check:
    name: str
    sql: str


@dataclass(frozen=True)
class Finding:
    check: str
    violations: list


CHECKS: list[Check] = []


def register(*checks: Check) -> None:
    """Add checks to the registry; registering the same check again changes nothing."""
    CHECKS.extend(c for c in checks if c not in CHECKS)


def all_checks() -> list[Check]:
    return list(CHECKS)


def run_audit(checks=None) -> list[Finding]:
    return [Finding(c.name, [tuple(r) for r in db.session.execute(text(c.sql)).fetchmany(20)])
            for c in (checks or all_checks())]
