"""Category names for HQ's reports, in the reader's language.

The ledger's facts (ledger_daily.category, detail.category) and the dashboard's filter keep a
category's slug: it survives a rename, so links, bookmarks and CSV file names stay stable.
People read the name. A slug is a catalogue category's (mall/catalog) or a merchant purchase
category's (mall/instore/categories.py; the merchant's wins, as on a till line); one read of
both tables per request names every row, never a query per row. A slug neither table knows
any more (a category deleted since its points were issued) is shown as itself: it is still
what the facts say.
"""
from collections.abc import Mapping
from dataclasses import dataclass, field

from sqlalchemy import literal, select

from ..catalog.models import Category
from ..instore.models import PurchaseCategory
from ..replica import analytics_session as reads

# Rows of name_selects() are tagged with their source: a merchant's name wins a shared slug.
CATALOGUE, MERCHANT = "catalogue", "merchant"


@dataclass(frozen=True)
class CategoryNames:
    """slug -> (name, name_zh); called with a slug, the name to show."""
    names: Mapping[str, tuple[str, str | None]] = field(default_factory=dict)
    chinese: bool = False

    def __call__(self, slug: str) -> str:
        name, name_zh = self.names.get(slug, (None, None))
        return (self.chinese and name_zh) or name or slug

    @classmethod
    def from_rows(cls, rows, chinese: bool) -> "CategoryNames":
        """From (source, slug, name, name_zh) rows of name_selects(), in any order."""
        ordered = sorted((r for r in rows if r[0] in (CATALOGUE, MERCHANT)), key=lambda r: r[0] == MERCHANT)
        return cls({slug: (name, name_zh) for _source, slug, name, name_zh in ordered}, chinese)


def name_selects() -> list:
    """The SELECTs naming every slug, to UNION ALL with whatever else the request reads."""
    return [select(literal(source).label("source"), table.slug, table.name, table.name_zh)
            for source, table in ((CATALOGUE, Category), (MERCHANT, PurchaseCategory))]


def category_names(*, chinese: bool) -> CategoryNames:
    """Every category's names, in one query."""
    catalogue, merchant = name_selects()
    return CategoryNames.from_rows(reads().execute(catalogue.union_all(merchant)).all(), chinese)
