from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, SelectField, StringField
from wtforms.validators import InputRequired, Length, NumberRange, Optional

from ..forms import DateTimeLocalField, Form, IntegerField


class SlotChoiceForm(Form):
    """The slot a member picks at checkout or to reschedule (and an address for a home visit)."""
    slot_id = IntegerField(_l("Time slot"), validators=[InputRequired(_l("Choose a time slot.")),
                                                        NumberRange(min=1, message=_l("Choose a time slot."))])
    address = StringField(_l("Address for the visit"), validators=[Optional(), Length(max=200)])


class SlotForm(Form):
    starts_at = DateTimeLocalField(_l("Starts"), format="%Y-%m-%dT%H:%M",
                                   validators=[InputRequired(_l("When does the slot start?"))])
    minutes = IntegerField(_l("Duration (minutes)"), default=60, validators=[
        InputRequired(), NumberRange(min=15, max=1440, message=_l("Between 15 minutes and 24 hours."))])
    store_id = SelectField(_l("Given by store"), coerce=int,
                           validators=[InputRequired(_l("Choose a store."))])
    at_home = BooleanField(_l("At the member's home (address asked at booking)"))
    capacity = IntegerField(_l("Places"), default=1, validators=[
        InputRequired(), NumberRange(min=1, max=1000, message=_l("Between 1 and 1000 places."))])
    repeat_days = IntegerField(_l("Repeat for N days"), default=1, validators=[
        InputRequired(), NumberRange(min=1, max=31, message=_l("Between 1 and %(n)s days.", n=31))])


class RightConfirmForm(Form):
    """The confirmation step before buying a right."""
    confirm_right = BooleanField(_l("I understand what this right gives and for how long"))
