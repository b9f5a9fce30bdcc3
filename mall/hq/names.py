"""Names for HQ's reports, in the reader's language: categories, stores, earning rules,
games, ledger reasons and programme budgets.

The facts keep stable keys: a category's slug (ledger_daily.category, detail.category, the
dashboard's filter), a store's id, a rule's name as the ledger recorded it, a programme
budget's scope and target. They survive a rename, so links, bookmarks and CSV file names
stay stable. People read the name, picked when the page is rendered: the Chinese name for a
zh reader where one exists, else the English one.

One read per request names every row, never a query per row: name_selects() is UNION ALL-ed
with whatever else the request reads (the dashboard's filter choices), or read alone
(hq_names). A store is named from the Store row the page already holds.
- Categories: a catalogue category's (mall/catalog) or a merchant purchase category's
  (mall/instore/categories.py; the merchant's wins, as on a till line). A slug neither table
  knows any more (a category deleted since its points were issued) is shown as itself.
- Cost by rule: an entry's rule is the promotion's name the ledger recorded (detail.campaign),
  else its reason code; a reason is named by mall/points/explain.py's REASON_LABELS, a rule by
  its Chinese name if any version of it has one.
- Programme budgets are created with an English default name ("Task: checkin",
  default_budget_name), and older rows hold the form's label in the language of whoever set
  it, or "Game: <English name>". Any of those is a default: the page derives the label from
  the scope and target instead. Any other stored name is HQ's own and is shown as entered.
"""
from collections.abc import Mapping
from dataclasses import dataclass, field

from flask_babel import force_locale, gettext as _, lazy_gettext as _l
from sqlalchemy import String, cast, func, literal, select, union_all
from sqlalchemy.orm import aliased

from ..budgets.labels import TASK_LABELS  # also read from here by HQ's views
from ..budgets.services import default_budget_name
from ..catalog.models import Category
from ..engagement.earning import UNNAMED_UPLIFT
from ..engagement.models import EarningRule
from ..games.models import Game
from ..instore.models import PurchaseCategory
from ..points.explain import REASON_LABELS, reason_label
from ..replica import analytics_session as reads

# Rows of name_selects() are tagged with their source: a merchant's name wins a shared slug.
CATALOGUE, MERCHANT = "catalogue", "merchant"
RULE_KEY, RULE_NAME, GAME = "rule_key", "rule_name", "game"
SOURCES = (CATALOGUE, MERCHANT, RULE_KEY, RULE_NAME, GAME)

# What a programme budget can be for (the programme budget form offers these too).
CAMPAIGN_LABELS = {"red-packets": _l("Red-packet campaigns"), "coupons": _l("Coupons issued by HQ"),
                   "appeals": _l("Appeal adjustments"), UNNAMED_UPLIFT: _l("Purchase bonuses of unnamed rules")}

_Names = Mapping[str, tuple[str, str | None]]


@dataclass(frozen=True)
class Names:
    """Names by key, and which language to pick. Called with a slug: the category's name."""
    names: _Names = field(default_factory=dict)   # category slug -> (name, name_zh)
    chinese: bool = False
    rules: _Names = field(default_factory=dict)   # rule key -> its newest version's names
    rule_names: _Names = field(default_factory=dict)  # a rule's English name -> (name, name_zh)
    games: _Names = field(default_factory=dict)   # game id (text) -> (name, name_zh)

    def pick(self, name: str | None, name_zh: str | None, chinese: bool | None = None) -> str | None:
        return ((self.chinese if chinese is None else chinese) and name_zh) or name

    def __call__(self, slug: str) -> str:
        return self.pick(*self.names.get(slug, (None, None))) or slug

    def store(self, store) -> str:
        """A store (its row, already read), by its name in the reader's language."""
        return self.pick(store.name, getattr(store, "name_zh", None))

    def rule(self, code: str) -> str:
        """A cost-by-rule row: a ledger reason, or the promotion's name the ledger recorded."""
        if code in REASON_LABELS:
            return reason_label(code)
        return self.pick(*self.rule_names.get(code, (None, None))) or code

    def budget(self, budget) -> str:
        """A programme budget's name: HQ's own as entered, else derived from its scope and target."""
        if budget.name in self._defaults(budget.scope, budget.target):
            return self._derived(budget.scope, budget.target, self.chinese)
        return budget.name

    def _derived(self, scope: str, target: str, chinese: bool) -> str:
        if scope == "task":
            return str(TASK_LABELS[target]) if target in TASK_LABELS else _("Task: %(name)s", name=target)
        if scope == "game":
            return _("Game: %(name)s", name=self.pick(*self.games.get(target, (target, None)), chinese=chinese))
        if target in CAMPAIGN_LABELS:
            return str(CAMPAIGN_LABELS[target])
        if target in self.rules:
            return _("Rule: %(name)s", name=self.pick(*self.rules[target], chinese=chinese))
        return _("Campaign: %(name)s", name=target)

    def _defaults(self, scope: str, target: str) -> set[str]:
        """Every name a programme budget was ever given by default, in either language."""
        names = {default_budget_name(scope, target)}
        for locale, chinese in (("en", False), ("zh_Hans", True)):
            with force_locale(locale):
                names.add(self._derived(scope, target, chinese)[:80])
        if scope == "game" and target in self.games:
            names.add(f"Game: {self.games[target][0]}"[:80])
        return names

    @classmethod
    def from_rows(cls, rows, chinese: bool) -> "Names":
        """From (source, key, name, name_zh) rows of name_selects(), in any order; rows of
        other sources are ignored."""
        rows = [r for r in rows if r[0] in SOURCES]
        by_source: dict[str, dict] = {source: {} for source in SOURCES}
        # A merchant's category name wins a shared slug; a rule's name with a Chinese name wins one without.
        for source, key, name, name_zh in sorted(rows, key=lambda r: (r[0] == MERCHANT, r[3] is not None)):
            by_source[source][key] = (name, name_zh)
        categories = {**by_source[CATALOGUE], **by_source[MERCHANT]}
        return cls(categories, chinese, by_source[RULE_KEY], by_source[RULE_NAME], by_source[GAME])


def name_selects() -> list:
    """The SELECTs naming every key, to UNION ALL with whatever else the request reads."""
    selects = [select(literal(source).label("source"), table.slug, table.name, table.name_zh)
               for source, table in ((CATALOGUE, Category), (MERCHANT, PurchaseCategory))]
    newer = aliased(EarningRule)
    newest = ~select(newer.id).where(newer.rule_key == EarningRule.rule_key, newer.id > EarningRule.id).exists()
    selects.append(select(literal(RULE_KEY), EarningRule.rule_key, EarningRule.name, EarningRule.name_zh)
                   .where(newest))
    selects.append(select(literal(RULE_NAME), EarningRule.name, EarningRule.name, func.max(EarningRule.name_zh))
                   .group_by(EarningRule.name))
    selects.append(select(literal(GAME), cast(Game.id, String), Game.name, Game.name_zh))
    return selects


def hq_names(*, chinese: bool) -> Names:
    """Every name HQ's pages show, in one query."""
    return Names.from_rows(reads().execute(union_all(*name_selects())).all(), chinese)
