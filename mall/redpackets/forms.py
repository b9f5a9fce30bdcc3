from flask_babel import lazy_gettext as _l
from wtforms import RadioField, SelectField, StringField
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from ..forms import DateTimeLocalField, DecimalField, Form, IntegerField, whole_number

MAX_TOTAL_YUAN = 10_000_000


def _optional_int(value):
    try:
        return whole_number(value) if value not in (None, "") else None
    except ValueError:
        return None


class CampaignForm(Form):
    """HQ's new red-packet campaign. Amounts in yuan (9.90), stored in fen."""
    name = StringField(_l("Name (English)"), validators=[DataRequired(_l("Give the campaign a name.")),
                                                         Length(max=80)])
    name_zh = StringField(_l("Name (Chinese)"), validators=[Optional(), Length(max=80)])
    store_id = SelectField(_l("Run by"), coerce=_optional_int, validators=[Optional()], validate_choice=True)
    total = DecimalField(_l("Total amount (¥), the campaign's budget"), places=2, validators=[
        DataRequired(_l("Enter the total amount.")),
        NumberRange(min=0.01, max=MAX_TOTAL_YUAN, message=_l("Enter an amount above zero."))])
    mode = RadioField(_l("Amounts"), default="random", choices=[
        ("random", _l("Random, within a range")), ("fixed", _l("The same for everyone"))])
    min_amount = DecimalField(_l("Smallest packet (¥), or the amount each when fixed"), places=2, validators=[
        DataRequired(_l("Enter the smallest amount.")),
        NumberRange(min=0.01, max=MAX_TOTAL_YUAN, message=_l("Enter an amount above zero."))])
    max_amount = DecimalField(_l("Largest packet (¥)"), places=2, validators=[
        Optional(), NumberRange(min=0.01, max=MAX_TOTAL_YUAN, message=_l("Enter an amount above zero."))])
    count = IntegerField(_l("Number of packets (empty: total ÷ average amount)"), validators=[
        Optional(), NumberRange(min=1, max=1_000_000, message=_l("Enter a whole number above zero."))])
    audience = RadioField(_l("Who may claim"), default="everyone", choices=[
        ("everyone", _l("Every member")), ("tier", _l("Members of a tier or above")),
        ("segment", _l("Members of a segment")), ("link", _l("Anyone with the share link"))])
    tier_id = SelectField(_l("Tier"), coerce=_optional_int, validators=[Optional()], validate_choice=False)
    segment = SelectField(_l("Segment"), validators=[Optional()], choices=[
        ("", "—"), ("loyal", _l("Loyal")), ("potential", _l("Potential")), ("ordinary", _l("Ordinary")),
        ("dormant", _l("Dormant"))])
    limit_per_member = IntegerField(_l("Claims per member"), default=1, validators=[
        DataRequired(_l("Enter how many times a member may claim.")),
        NumberRange(min=1, max=100, message=_l("Enter a number from 1 to 100."))])
    starts_at = DateTimeLocalField(_l("Claims open"), format="%Y-%m-%dT%H:%M",
                                   validators=[DataRequired(_l("Enter when claims open."))])
    ends_at = DateTimeLocalField(_l("Claims close"), format="%Y-%m-%dT%H:%M",
                                 validators=[DataRequired(_l("Enter when claims close."))])
    valid_until = DateTimeLocalField(_l("Usable until (a fixed end)"), format="%Y-%m-%dT%H:%M",
                                     validators=[Optional()])
    valid_days = IntegerField(_l("Or usable for this many days from the claim"), validators=[
        Optional(), NumberRange(min=1, max=3650, message=_l("Enter a number from 1 to 3650."))])


class CloseForm(Form):
    pass


class ClaimForm(Form):
    pass
