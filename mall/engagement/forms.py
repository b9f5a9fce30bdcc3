from decimal import Decimal

from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, SelectField, SelectMultipleField, StringField, TextAreaField, TimeField
from wtforms.validators import (DataRequired, InputRequired, Length, NumberRange, Optional, Regexp,
                                ValidationError)
from wtforms.widgets import CheckboxInput, ListWidget

from ..console.forms import MoneyField
from ..forms import DateField, DateTimeLocalField, Form, IntegerField
from ..templating import localized
from .models import RULE_VALUE_MAX, SEGMENTS, RuleKind
from .rulebook import value_too_large

KIND_LABELS = {
    RuleKind.BASE_RATE.value: _l("Base rate (spend per point, in fen)"),
    RuleKind.TIER_MULTIPLIER.value: _l("Tier multiplier (percent)"),
    RuleKind.TIME_SLOT.value: _l("Time slot multiplier (percent, on weekdays)"),
    RuleKind.CAMPAIGN.value: _l("Campaign multiplier (percent, in a window)"),
    RuleKind.CATEGORY_BONUS.value: _l("Category bonus (percent of base, added)"),
    RuleKind.FIRST_PURCHASE.value: _l("First purchase bonus (points)"),
    RuleKind.CAP.value: _l("Cap (percent of base)"),
}
MAX_LINE_MINOR = 100_000_000  # ¥1,000,000: the most one receipt line holds (instore.purchases)
SEGMENT_LABELS = {"loyal": _l("Loyal"), "potential": _l("Potential"), "dormant": _l("Dormant"),
                  "ordinary": _l("Ordinary")}
assert set(SEGMENT_LABELS) == set(SEGMENTS)
WEEKDAYS = [(1, _l("Mon")), (2, _l("Tue")), (3, _l("Wed")), (4, _l("Thu")), (5, _l("Fri")),
            (6, _l("Sat")), (7, _l("Sun"))]


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class RuleForm(Form):
    kind = SelectField(_l("Kind"), choices=list(KIND_LABELS.items()),
                       validators=[InputRequired(_l("Choose the kind of rule."))])
    name = StringField(_l("Name"), validators=[DataRequired(_l("Give the rule a name members will read.")),
                                               Length(max=60)],
                       description=_l("Shown on statements, e.g. \"Fresh day\"."))
    name_zh = StringField(_l("Name in Chinese"), validators=[Optional(), Length(max=60)])
    value = IntegerField(_l("Value"), validators=[
        InputRequired(_l("Enter the value.")),
        NumberRange(min=1, message=_l("The value must be a whole number above zero."))],
        description=_l("Percent for multipliers, bonuses and caps (200 = ×2); points for the first "
                       "purchase bonus; fen of spend per point for the base rate (100 = ¥1)."))
    tier_code = SelectField(_l("Tier"), validators=[Optional()])
    category_slug = SelectField(_l("Category"), validators=[Optional()])
    store_id = SelectField(_l("Store"), coerce=int, validators=[Optional()])
    weekdays = MultiCheckboxField(_l("Weekdays"), choices=WEEKDAYS, coerce=int, validators=[Optional()])
    starts_at = DateTimeLocalField(_l("Starts"), format="%Y-%m-%dT%H:%M", validators=[Optional()])
    ends_at = DateTimeLocalField(_l("Ends"), format="%Y-%m-%dT%H:%M", validators=[Optional()])
    hours_from = TimeField(_l("From (shop time)"), validators=[Optional()])
    hours_to = TimeField(_l("Until (shop time)"), validators=[Optional()],
                         description=_l("Only purchases in these hours, e.g. 08:00 to 12:00."))
    skus = StringField(_l("SKUs"), validators=[Optional(), Length(max=400)],
                       description=_l("Only these receipt lines, comma separated."))
    month_days = StringField(_l("Days of the month"), validators=[
        Optional(), Regexp(r"^\s*\d{1,2}(\s*,\s*\d{1,2})*\s*$", message=_l("Days separated by commas, e.g. 8, 18."))],
        description=_l("Member days, e.g. 8 for the 8th of every month."))
    birthday_month = BooleanField(_l("Only in the member's birthday month"))
    segment = SelectField(_l("Member segment"), choices=[("", _l("(any)"))] + list(SEGMENT_LABELS.items()),
                          validators=[Optional()],
                          description=_l("Only members HQ's last segment refresh put in this segment."))

    def validate_value(self, field):
        top = RULE_VALUE_MAX.get(self.kind.data)
        if top is not None and field.data is not None and not field.errors and field.data > top:
            raise ValidationError(value_too_large(self.kind.data))

    def minutes(self) -> tuple[int | None, int | None]:
        def m(t):
            return None if t is None else t.hour * 60 + t.minute
        start, end = m(self.hours_from.data), m(self.hours_to.data)
        return start, (1440 if end == 0 and start is not None else end)

    def sku_list(self) -> tuple[str, ...]:
        return tuple(s.strip() for s in (self.skus.data or "").split(",") if s.strip())

    def month_day_list(self) -> tuple[int, ...]:
        return tuple(int(d) for d in (self.month_days.data or "").split(",") if d.strip())


class PreviewForm(Form):
    class Meta:
        csrf = False  # a read-only calculation driven by GET

    tier_code = SelectField(_l("Tier"), validators=[InputRequired()])
    spend = MoneyField(_l("Spend (¥)"), validators=[InputRequired(_l("Enter the amount spent."))])
    category_slug = SelectField(_l("Category"), validators=[Optional()])
    store_id = SelectField(_l("Store"), coerce=int, validators=[Optional()])
    at = DateTimeLocalField(_l("When"), format="%Y-%m-%dT%H:%M", validators=[InputRequired(_l("Enter a date and time."))])
    first_purchase = BooleanField(_l("Member's first purchase"))
    segment = SelectField(_l("Member segment"), choices=[("", _l("(none)"))] + list(SEGMENT_LABELS.items()),
                          validators=[Optional()])
    lines = TextAreaField(_l("Receipt lines (optional)"), validators=[Optional(), Length(max=4000), Regexp(
        r"^(\s*[a-z0-9_-]*\s*,\s*\d{1,9}(\.\d{1,2})?\s*(,[^,\n]*)?\s*(\n|$))+$",
        message=_l("One line per row: category, amount, SKU (optional), e.g. fresh, 86.00"))],
        description=_l("One line per row: category, amount, SKU (optional). They replace the spend and category above."))

    def validate_lines(self, field):
        # The regex bounds the digits; this bounds the amount, as a till's receipt line is
        # (instore: MAX_AMOUNT_MINOR), so the preview never computes with absurd numbers.
        if not field.data or field.errors:  # empty, or not in the one format (Regexp said so)
            return
        if any(line["amount_minor"] > MAX_LINE_MINOR for line in self.line_list()):
            raise ValidationError(_l("A line's amount can be at most ¥1,000,000."))

    def line_list(self) -> list[dict]:
        out = []
        for n, row in enumerate([r for r in (self.lines.data or "").splitlines() if r.strip()], start=1):
            parts = [p.strip() for p in row.split(",")]
            amount = int(Decimal(parts[1]) * 100)  # exact: at most 2 decimals (the regex)
            out.append({"line_no": n, "category": parts[0], "amount_minor": amount,
                        "sku": parts[2] if len(parts) > 2 else ""})
        return out


def choose(form, tiers, categories, stores) -> None:
    blank = [("", _l("(any)"))]
    form.tier_code.choices = ([] if isinstance(form, PreviewForm) else blank) + [(t.code, localized(t, "name")) for t in tiers]
    form.category_slug.choices = blank + [(c.slug, localized(c, "name")) for c in categories]
    form.store_id.choices = [(0, _l("(all stores)"))] + [(s.id, f"{s.code} {localized(s, 'name')}") for s in stores]


class ProfileForm(Form):
    birthday = DateField(_l("Birthday"), validators=[Optional()])
    city = StringField(_l("City"), validators=[Optional(), Length(max=60)])
    favourite_category = SelectField(_l("Favourite category"), validators=[Optional()])


class ReferralForm(Form):
    code = StringField(_l("Member code of the friend who invited you"),
                       validators=[DataRequired(_l("Enter your friend's member code.")), Length(max=16)])


class CheckinForm(Form):
    pass
