"""One page of a list: the count, the page number clamped into range, and that page's rows.

Every paged list in the app (statements, orders, the audit log, HQ queues, console lists)
pages the same way: at least one page even when empty, a page number below 1 or past the
end is moved to the nearest page that exists, and a page holds `per_page` rows.
"""
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, func, select

from .extensions import db


@dataclass(frozen=True)
class Page:
    items: list[Any]
    page: int
    pages: int
    total: int


def page_bounds(total: int, page: int, per_page: int) -> tuple[int, int]:
    """(page, pages) for `total` rows: pages is at least 1 and page lies in 1..pages."""
    pages = max(1, -(-total // per_page))
    return min(max(page, 1), pages), pages


def paginate(query: Select, page: int, per_page: int, *, rows: bool = False) -> Page:
    """Count `query`'s rows, clamp `page`, and fetch that page of it (ordered as `query` is).
    Items are the first column's objects (`session.scalars`), or whole result rows with
    rows=True (for queries that select several entities or columns)."""
    total = db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    page, pages = page_bounds(total, page, per_page)
    limited = query.offset((page - 1) * per_page).limit(per_page)
    items = db.session.execute(limited).all() if rows else db.session.scalars(limited).all()
    return Page(list(items), page, pages, total)
