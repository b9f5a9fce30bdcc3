import uuid

from flask_babel import lazy_gettext as _l
from ..forms import Form
from wtforms import HiddenField, IntegerField, RadioField
from wtforms.validators import DataRequired, InputRequired, NumberRange, Optional

from .quotes import MAX_QUANTITY


class PlanForm(Form):
    """Choose how to pay for one item. `key` makes a double-tapped submit one order."""

    plan_id = RadioField(_l("How to pay"), coerce=int, validators=[InputRequired(_l("Choose how to pay."))])
    quantity = IntegerField(_l("Quantity"), default=1, validators=[
        InputRequired(_l("Enter a quantity.")),
        NumberRange(1, MAX_QUANTITY, _l("Choose a quantity between 1 and %(max)s.", max=MAX_QUANTITY))])
    offset_points = IntegerField(_l("Points to use"), default=0, validators=[
        Optional(), NumberRange(min=0, message=_l("Points can't be negative."))])
    key = HiddenField(validators=[DataRequired()])

    def __init__(self, *args, plans=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.plan_id.choices = [(p.id, p.kind) for p in plans]
        if not self.key.data:
            self.key.data = uuid.uuid4().hex


class QuantityForm(Form):
    quantity = IntegerField(_l("Quantity"), validators=[
        InputRequired(_l("Enter a quantity.")),
        NumberRange(1, MAX_QUANTITY, _l("Choose a quantity between 1 and %(max)s.", max=MAX_QUANTITY))])


class CheckoutForm(Form):
    key = HiddenField(validators=[DataRequired()])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.key.data:
            self.key.data = uuid.uuid4().hex


class ConfirmForm(Form):
    """CSRF only: cancel, pay at the counter, start card payment."""
