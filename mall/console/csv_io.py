"""CSV export and import of items and stock.

Import is all or nothing: every row is checked first, problems are reported by row number
and column, and only a file without any problem is applied, in one transaction, through
the same services as the console (so the change log and stock movements are written).

The whole file is read, up to MALL_CSV_MAX_BYTES; a larger one is refused as a whole, never
cut (a cut would drop rows silently, or split a UTF-8 character and refuse a valid file).
Cells are checked against the schema before anything is written: no control characters,
no text longer than its column, whole numbers in ASCII digits within the INTEGER range.
"""
import csv
import io
from dataclasses import dataclass, field
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from ..errors import DomainError
from ..extensions import db
from ..web import MAX_INT, has_control_characters
from ..inventory.models import StockLevel
from ..inventory.services import StockOverLimit
from ..points.models import Tier
from ..catalog.management import ItemData, PlanData, create_item, set_published, snapshot, update_item
from ..catalog.models import ITEM_KINDS, Category, Item
from ..presale.services import receive_goods
from ..wallet import specs as coupons

COLUMNS = ["sku", "name", "name_zh", "category", "min_tier", "points_price", "per_member_limit",
           "published", "receive", "kind", "received", "reserved", "sold", "available"]
IMPORTED = COLUMNS[:10]  # received/reserved/sold/available are exported for reading only
MAX_ROWS = 5000
# Text columns and the schema's length for each (what PostgreSQL would refuse with a 5xx).
LENGTHS = {"sku": Item.__table__.c.sku.type.length, "name": Item.__table__.c.name.type.length,
           "name_zh": Item.__table__.c.name_zh.type.length}


class FileRefused(DomainError):
    """The upload as a whole: too large, not UTF-8 text, or not CSV the reader can take."""


def read_upload(upload, max_bytes: int) -> str:
    """The whole upload as text, or FileRefused: never a part of it."""
    data = upload.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise FileRefused(_l("The file is larger than %(n)s bytes: nothing was imported. Split it into "
                             "smaller files.", n=f"{max_bytes:,}"))
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise FileRefused(_l("The file is not UTF-8 text."))


def reference_for(filename: str | None) -> str:
    """The stock movements' reference: the file's name, printable and within its column."""
    name = "".join(ch for ch in (filename or "") if not has_control_characters(ch))
    return f"csv:{name}"[:80]


@dataclass
class Problem:
    row: int
    column: str
    message: str


class ImportRefused(DomainError):
    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__(_l("Nothing was imported: %(n)s problems found.", n=len(problems)))


@dataclass
class ImportResult:
    created: int = 0
    updated: int = 0
    received: int = 0
    preorders_served: int = 0
    skus: list[str] = field(default_factory=list)


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(text: str) -> str:
    """Text a spreadsheet would run as a formula (=HYPERLINK(...)) gets a leading quote on
    export; import takes it off again, so a file round-trips unchanged."""
    return "'" + text if text and text.startswith(FORMULA_START) else text


def _uncell(text: str) -> str:
    return text[1:] if text.startswith("'") and text[1:].startswith(FORMULA_START) else text


def export_items() -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    rows = db.session.execute(
        select(Item, Category.slug, Tier.code, StockLevel)
        .join(Category, Category.id == Item.category_id)
        .outerjoin(Tier, Tier.id == Item.min_tier_id)
        .outerjoin(StockLevel, StockLevel.item_id == Item.id).order_by(Item.sku)).all()
    for item, category, tier, stock in rows:
        writer.writerow([_cell(item.sku), _cell(item.name), _cell(item.name_zh or ""), _cell(category), _cell(tier or ""), item.points_price,
                         item.per_member_limit or "", "yes" if item.published else "no", "", item.kind,
                         stock.received if stock else 0, stock.reserved if stock else 0,
                         stock.sold if stock else 0, stock.available if stock else 0])
    return out.getvalue()


def _int(value: str, *, minimum: int, optional: bool):
    value = (value or "").strip()
    if not value:
        if optional:
            return None
        raise ValueError(str(_l("This column is required.")))
    # ASCII digits only, as in the console's forms (int() would take "1_0" and "１２").
    if not (value.isascii() and value.lstrip("-").isdigit()) or value.count("-") > 1:
        raise ValueError(str(_l("Enter a whole number.")))
    number = int(value)
    if number < minimum:
        raise ValueError(str(_l("Must be %(n)s or more.", n=minimum)))
    if number > MAX_INT:
        raise ValueError(str(_l("Must be %(n)s or less.", n=MAX_INT)))
    return number


def _parse(text: str):
    """The file's rows, checked. The whole file is read first (it is within the upload limit),
    so a file the csv module can't read is refused as such (FileRefused), before its header
    or rows are judged."""
    reader = csv.DictReader(io.StringIO(text))
    try:
        records = list(reader)
    except csv.Error as error:
        # A cell past csv.field_size_limit() (131,072 characters) fits well inside the upload
        # limit; this and any other reader error refuse the whole file, before any write.
        raise FileRefused(_l("Line %(n)s can't be read as CSV (a cell longer than %(max)s characters, or a "
                             "quote left open?): nothing was imported.",
                             n=reader.line_num, max=f"{csv.field_size_limit():,}")) from error
    missing = [c for c in ("sku", "name", "category", "points_price") if c not in (reader.fieldnames or [])]
    if missing:
        raise ImportRefused([Problem(1, c, str(_l("The header lacks this column."))) for c in missing])
    categories = {c.slug: c.id for c in db.session.scalars(select(Category))}
    tiers = {t.code: t.id for t in db.session.scalars(select(Tier))}
    rows, problems, seen = [], [], {}
    for number, raw in enumerate(records, start=2):
        raw = {k: _uncell(v) if isinstance(v, str) else v for k, v in raw.items()}
        if number - 1 > MAX_ROWS:
            problems.append(Problem(number, "sku", str(_l("At most %(n)s rows per file.", n=MAX_ROWS))))
            break
        row, ok = {}, True

        def bad(column, message):
            nonlocal ok
            ok = False
            problems.append(Problem(number, column, message))

        for column in IMPORTED:
            value = raw.get(column)
            if isinstance(value, str) and has_control_characters(value):
                bad(column, str(_l("Remove the control characters (such as NUL) from this cell.")))
            elif isinstance(value, str) and column in LENGTHS and len(value.strip()) > LENGTHS[column]:
                bad(column, str(_l("At most %(n)s characters.", n=LENGTHS[column])))
        if not ok:
            continue

        sku = (raw.get("sku") or "").strip()
        if not sku:
            bad("sku", str(_l("This column is required.")))
        elif sku in seen:
            bad("sku", str(_l("The same SKU is on row %(n)s too.", n=seen[sku])))
        seen.setdefault(sku, number)
        if not (raw.get("name") or "").strip():
            bad("name", str(_l("This column is required.")))
        category = (raw.get("category") or "").strip()
        if category not in categories:
            bad("category", str(_l("No category %(c)s.", c=category or "-")))
        tier = (raw.get("min_tier") or "").strip()
        if tier and tier not in tiers:
            bad("min_tier", str(_l("No tier %(t)s.", t=tier)))
        for column, minimum, optional in (("points_price", 1, False), ("per_member_limit", 1, True), ("receive", 1, True)):
            try:
                row[column] = _int(raw.get(column), minimum=minimum, optional=optional)
            except ValueError as exc:
                bad(column, str(exc))
        published = (raw.get("published") or "no").strip().lower()
        if published not in ("yes", "no"):
            bad("published", str(_l("Write yes or no.")))
        kind = (raw.get("kind") or "").strip()  # empty: goods for a new item, unchanged for an existing one
        if kind and kind not in ITEM_KINDS:
            bad("kind", str(_l("Write one of: %(kinds)s.", kinds=", ".join(ITEM_KINDS))))
        if ok:
            rows.append((number, dict(sku=sku, kind=kind or None, name=raw["name"].strip(), name_zh=(raw.get("name_zh") or "").strip() or None,
                                      category_id=categories[category], min_tier_id=tiers.get(tier),
                                      points_price=row["points_price"], per_member_limit=row["per_member_limit"],
                                      published=published == "yes", receive=row["receive"])))
    if problems:
        raise ImportRefused(problems)
    return rows


def import_items(text: str, *, actor_id: int | None, now: datetime, reference: str) -> ImportResult:
    """Create or update items by SKU and receive stock. Raises ImportRefused listing every
    problem, or FileRefused for a file the csv module can't read; on any refusal nothing is
    written."""
    rows = _parse(text)
    result = ImportResult()
    with db.session.begin_nested():
        for number, row in rows:
            try:
                _apply_row(row, actor_id=actor_id, now=now, reference=reference, result=result)
            except DomainError as error:
                raise ImportRefused([Problem(number, error.field or "sku", str(error.message))]) from error
    return result


def _apply_row(row, *, actor_id, now, reference, result):
    item = db.session.scalar(select(Item).where(Item.sku == row["sku"]))
    fields = {k: row[k] for k in ("sku", "name", "name_zh", "category_id", "min_tier_id", "points_price",
                                  "per_member_limit")}
    if item is None:
        item = create_item(ItemData(**fields, kind=row["kind"] or "goods"), actor_id=actor_id, now=now, published=row["published"])
        result.created += 1
    else:
        current = snapshot(item)
        data = ItemData(**fields, description=item.description, description_zh=item.description_zh,
                        available_from=item.available_from, available_until=item.available_until,
                        tier_prices={int(k): v for k, v in current["tier_prices"].items()},
                        plans=[PlanData(p["kind"], p["points"], p["cash_minor"], p["max_offset_pct"], p["active"])
                               for p in current["plans"]], kind=row["kind"] or item.kind)
        update_item(item.id, data, actor_id=actor_id, now=now)
        if item.published != row["published"]:
            set_published(item.id, row["published"], actor_id=actor_id, now=now)
        result.updated += 1
    coupons.require_spec(item.id, row["published"])  # a published coupon item needs its coupon
    if row["receive"]:
        # Goods received for a presale item go to its pre-orders first, as in the console.
        try:
            outcome = receive_goods(item.id, row["receive"], reference=reference, reason="CSV import", now=now,
                                    actor_id=actor_id)
        except StockOverLimit as error:  # the count would pass MAX_INT: the file's column is "receive"
            raise StockOverLimit(field="receive") from error
        result.received += row["receive"]
        if outcome:
            result.preorders_served += outcome["served"]
    result.skus.append(item.sku)
