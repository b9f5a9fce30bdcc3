from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, SelectField, SelectMultipleField, StringField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from ..console.forms import MoneyField
from ..forms import DateField, DateTimeLocalField, Form, IntegerField
from .models import RuleKind

KIND_LABELS = {
    RuleKind.BASE_RATE.value: _l("Base rate (spend per point, in fen)"),
    RuleKind.TIER_MULTIPLIER.value: _l("Tier multiplier (percent)"),
    RuleKind.TIME_SLOT.value: _l("Time slot multiplier (percent, on weekdays)"),
    RuleKind.CAMPAIGN.value: _l("Campaign multiplier (percent, in a window)"),
    RuleKind.CATEGORY_BONUS.value: _l("Category bonus (percent of base, added)"),
    RuleKind.FIRST_PURCHASE.value: _l("First purchase bonus (points)"),
    RuleKind.CAP.value: _l("Cap (percent of base)"),
}
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


class PreviewForm(Form):
    class Meta:
        csrf = False  # a read-only calculation driven by GET

    tier_code = SelectField(_l("Tier"), validators=[InputRequired()])
    spend = MoneyField(_l("Spend (¥)"), validators=[InputRequired(_l("Enter the amount spent."))])
    category_slug = SelectField(_l("Category"), validators=[Optional()])
    store_id = SelectField(_l("Store"), coerce=int, validators=[Optional()])
    at = DateTimeLocalField(_l("When"), format="%Y-%m-%dT%H:%M", validators=[InputRequired(_l("Enter a date and time."))])
    first_purchase = BooleanField(_l("Member's first purchase"))


def choose(form, tiers, categories, stores) -> None:
    blank = [("", _l("(any)"))]
    form.tier_code.choices = ([] if isinstance(form, PreviewForm) else blank) + [(t.code, t.name) for t in tiers]
    form.category_slug.choices = blank + [(c.slug, c.name) for c in categories]
    form.store_id.choices = [(0, _l("(all stores)"))] + [(s.id, f"{s.code} {s.name}") for s in stores]


class ProfileForm(Form):
    birthday = DateField(_l("Birthday"), validators=[Optional()])
    city = StringField(_l("City"), validators=[Optional(), Length(max=60)])
    favourite_category = SelectField(_l("Favourite category"), validators=[Optional()])


class ReferralForm(Form):
    code = StringField(_l("Member code of the friend who invited you"),
                       validators=[DataRequired(_l("Enter your friend's member code.")), Length(max=16)])


class CheckinForm(Form):
    pass
