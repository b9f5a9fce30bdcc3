"""Every paged list pages the same way: at least one page, and a page number out of range
lands on the nearest page that exists."""
import pytest
from sqlalchemy import select

import mall.models  # noqa: F401  (every mapper, so collecting this file first configures none half-way)
from mall.accounts.auditlog import audit
from mall.accounts.models import AuditEntry
from mall.extensions import db
from mall.pagination import page_bounds, paginate


@pytest.mark.parametrize("total, page, per_page, expected", [
    (0, 1, 20, (1, 1)),      # empty: one (empty) page
    (0, 5, 20, (1, 1)),
    (45, 0, 20, (1, 3)),     # page 0 and negative pages are the first page
    (45, -3, 20, (1, 3)),
    (45, 9, 20, (3, 3)),     # beyond the last page: the last page
    (40, 2, 20, (2, 2)),     # an exact multiple has no empty trailing page
    (41, 3, 20, (3, 3)),
    (1, 1, 1, (1, 1)),
])
def test_page_bounds(total, page, per_page, expected):
    assert page_bounds(total, page, per_page) == expected


def _entries(now, n):
    for i in range(n):
        audit(None, "test", "thing", i, f"line {i}", now)
    db.session.flush()


def test_paginate_returns_that_page_of_the_ordered_query(app, clock):
    _entries(clock.now(), 5)
    query = select(AuditEntry).order_by(AuditEntry.id)
    first = paginate(query, 1, 2)
    assert ([e.subject_id for e in first.items], first.page, first.pages, first.total) == ([0, 1], 1, 3, 5)
    last = paginate(query, 3, 2)
    assert [e.subject_id for e in last.items] == [4]


def test_paginate_clamps_the_page(app, clock):
    _entries(clock.now(), 4)
    query = select(AuditEntry).order_by(AuditEntry.id)
    assert paginate(query, 0, 2).page == 1
    beyond = paginate(query, 7, 2)
    assert (beyond.page, beyond.pages, [e.subject_id for e in beyond.items]) == (2, 2, [2, 3])


def test_paginate_an_empty_query_is_one_empty_page(app):
    page = paginate(select(AuditEntry).order_by(AuditEntry.id), 3, 10)
    assert (page.items, page.page, page.pages, page.total) == ([], 1, 1, 0)


def test_paginate_rows_gives_every_selected_column(app, clock):
    _entries(clock.now(), 3)
    page = paginate(select(AuditEntry, AuditEntry.reason).order_by(AuditEntry.id.desc()), 1, 2, rows=True)
    assert [(entry.subject_id, reason) for entry, reason in page.items] == [(2, "line 2"), (1, "line 1")]
    assert page.total == 3
