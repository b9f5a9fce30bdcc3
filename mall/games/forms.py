from flask_babel import lazy_gettext as _l
from wtforms import SelectField, SelectMultipleField, StringField
from wtforms.validators import InputRequired, Length, NumberRange, Optional, ValidationError

from ..checkout.forms import KeyedForm, submit_key
from ..engagement.segments import SEGMENTS
from ..forms import DateTimeLocalField, DecimalField, Form, IntegerField
from .models import GameKind, PrizeKind

KIND_LABELS = {GameKind.BLIND_BOX.value: _l("Blind box"), GameKind.WHEEL.value: _l("Spin wheel"),
               GameKind.GRID.value: _l("Nine-cell grid")}
PRIZE_LABELS = {PrizeKind.POINTS.value: _l("Points"), PrizeKind.ITEM.value: _l("Catalogue item"),
                PrizeKind.COUPON.value: _l("Coupon"), PrizeKind.RED_PACKET.value: _l("Red packet"),
                PrizeKind.NOTHING.value: _l("Thanks for playing")}
SEGMENT_LABELS = {"loyal": _l("Loyal"), "potential": _l("Potential"), "dormant": _l("Dormant"),
                  "ordinary": _l("Ordinary")}
MAX = 10_000_000


class GameForm(Form):
    name = StringField(_l("Name"), validators=[InputRequired(_l("Give the game a name.")), Length(max=80)])
    name_zh = StringField(_l("Name in Chinese"), validators=[Optional(), Length(max=80)])
    kind = SelectField(_l("Kind"), choices=list(KIND_LABELS.items()))
    starts_at = DateTimeLocalField(_l("Opens"), format="%Y-%m-%dT%H:%M",
                                   validators=[InputRequired(_l("When does the game open?"))])
    ends_at = DateTimeLocalField(_l("Closes"), format="%Y-%m-%dT%H:%M",
                                 validators=[InputRequired(_l("When does the game close?"))])
    cost_kind = SelectField(_l("A play costs"), choices=[("points", _l("Points")), ("draw", _l("A draw earned by a task"))])
    cost_points = IntegerField(_l("Points per play"), validators=[Optional(), NumberRange(min=1, max=MAX)])
    draw_task = SelectField(_l("Task that earns a draw"), choices=[
        ("", "—"), ("checkin_streak", _l("Check-in streak")), ("first_purchase", _l("First purchase"))],
        validators=[Optional()])
    streak_days = IntegerField(_l("Check-ins in a row per draw"), validators=[Optional(), NumberRange(min=1, max=365)])
    daily_limit = IntegerField(_l("Plays per member per day"), default=3, validators=[
        InputRequired(), NumberRange(min=1, max=1000)])
    total_limit = IntegerField(_l("Plays per member in all"), default=30, validators=[
        InputRequired(), NumberRange(min=1, max=100000)])
    tiers = SelectMultipleField(_l("Tiers who may play (none chosen: all)"), choices=[], validators=[Optional()])
    segments = SelectMultipleField(_l("Member groups who may play (none chosen: all)"),
                                   choices=[(s, SEGMENT_LABELS[s]) for s in SEGMENTS], validators=[Optional()])
    pity_after = IntegerField(_l("Pity rule: a prize of value after this many plays without one"),
                              validators=[Optional(), NumberRange(min=1, max=1000)])
    budget_points = IntegerField(_l("Budget (points of prize value per month)"), validators=[
        InputRequired(_l("Set the game's budget in points.")), NumberRange(min=1, max=MAX)])

    def validate_ends_at(self, field):
        if field.data and self.starts_at.data and field.data <= self.starts_at.data:
            raise ValidationError(_l("The game must end after it starts."))


class PrizeForm(Form):
    kind = SelectField(_l("Prize"), choices=list(PRIZE_LABELS.items()))
    label = StringField(_l("Label"), validators=[InputRequired(_l("Give the prize a label.")), Length(max=80)])
    label_zh = StringField(_l("Label in Chinese"), validators=[Optional(), Length(max=80)])
    points = IntegerField(_l("Points given"), validators=[Optional(), NumberRange(min=1, max=MAX)])
    item_id = SelectField(_l("Catalogue item"), coerce=int, choices=[], validate_choice=False)
    coupon_spec_id = SelectField(_l("Coupon"), coerce=int, choices=[], validate_choice=False)
    packet_value = DecimalField(_l("Red packet value (¥)"), places=2, validators=[Optional()])
    cost_points = IntegerField(_l("Value in points (charged to the budget)"),
                               validators=[Optional(), NumberRange(min=1, max=MAX)])
    weight = IntegerField(_l("Weight"), default=1, validators=[InputRequired(), NumberRange(min=1, max=1_000_000)])
    stock = IntegerField(_l("Stock (empty: unlimited)"), validators=[Optional(), NumberRange(min=0, max=MAX)])


class ConfirmForm(Form):
    """A bare CSRF-checked button (open, close, remove a prize)."""


class PlayForm(KeyedForm):
    """One play. `key` makes a double-tapped submit one play."""

    key = submit_key()
