from flask_babel import lazy_gettext as _l
from wtforms import HiddenField
from wtforms.validators import InputRequired, NumberRange, Optional, ValidationError
from wtforms.widgets import HiddenInput

from ..forms import DateField, DateTimeLocalField, Form, IntegerField


class PresaleForm(Form):
    opens_at = DateTimeLocalField(_l("Pre-orders open"), format="%Y-%m-%dT%H:%M",
                                  validators=[InputRequired(_l("When do pre-orders open?"))])
    closes_at = DateTimeLocalField(_l("Pre-orders close"), format="%Y-%m-%dT%H:%M",
                                   validators=[InputRequired(_l("When do pre-orders close?"))])
    priority_opens_at = DateTimeLocalField(_l("Priority access opens (optional)"), format="%Y-%m-%dT%H:%M",
                                           validators=[Optional()])
    cap = IntegerField(_l("Most units to pre-sell"), validators=[
        InputRequired(_l("Enter the cap.")), NumberRange(min=1, message=_l("The cap must be a whole number above zero."))])
    ships_on = DateField(_l("Expected ship date"), validators=[InputRequired(_l("Enter the expected ship date."))])
    offer_hours = IntegerField(_l("Hours a shortfall offer stays open"), default=72, validators=[
        InputRequired(), NumberRange(min=1, max=720, message=_l("Between 1 and 720 hours."))])

    def validate_priority_opens_at(self, field):
        if field.data and self.opens_at.data and field.data >= self.opens_at.data:
            raise ValidationError(_l("Priority access must open before pre-orders open for everyone."))

    def validate_closes_at(self, field):
        if field.data and self.opens_at.data and field.data <= self.opens_at.data:
            raise ValidationError(_l("The window must end after it starts."))


class OfferForm(Form):
    substitute_id = IntegerField(widget=HiddenInput(), validators=[Optional()])
    confirm_top_up = HiddenField()
