import uuid

from flask_babel import lazy_gettext as _l
from flask_wtf.form import _Auto

from ..forms import Form, IntegerField
from wtforms import HiddenField, RadioField, StringField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from .models import Order
from .quotes import MAX_QUANTITY

# The page gives each form a fresh key; a submit without one is refused rather than given a
# made-up key, which would make a double tap two orders.
KEY_LENGTH = Order.__table__.c.idempotency_key.type.length


def submit_key(max_length: int = KEY_LENGTH):
    """A submit's idempotency key; max_length: the key column of the table it is stored in."""
    return HiddenField(validators=[
        DataRequired(_l("This page is out of date: reload it and try again.")),
        Length(max=max_length, message=_l("This page is out of date: reload it and try again."))])


def coupon_code():
    """A coupon or red packet from My wallet (its short code), taken off the cash part."""
    return StringField(_l("Coupon code"), filters=[lambda v: (v or "").strip() or None], validators=[
        Optional(), Length(max=64, message=_l("A coupon code has up to 64 characters."))])


class KeyedForm(Form):
    """A form whose submit is one intent: a shown form gets a fresh key; a submitted one keeps
    exactly what was sent (nothing, if nothing was)."""

    def __init__(self, formdata=_Auto, **kwargs):
        super().__init__(formdata=formdata, **kwargs)
        if not self.key.data and not (formdata is not None and self.is_submitted()):
            self.key.data = uuid.uuid4().hex

    def key_refusal(self) -> str | None:
        """Why the submitted key was refused, if it was; the form shown again gets a new one."""
        if not self.key.errors:
            return None
        self.key.data = uuid.uuid4().hex
        return str(self.key.errors[0])


class PlanForm(KeyedForm):
    """Choose how to pay for one item. `key` makes a double-tapped submit one order."""

    plan_id = RadioField(_l("How to pay"), coerce=int, validators=[InputRequired(_l("Choose how to pay."))])
    quantity = IntegerField(_l("Quantity"), default=1, validators=[
        InputRequired(_l("Enter a quantity.")),
        NumberRange(1, MAX_QUANTITY, _l("Choose a quantity between 1 and %(max)s.", max=MAX_QUANTITY))])
    offset_points = IntegerField(_l("Points to use"), default=0, validators=[
        Optional(), NumberRange(min=0, message=_l("Points can't be negative."))])
    coupon = coupon_code()
    key = submit_key()

    def __init__(self, formdata=_Auto, plans=(), **kwargs):
        super().__init__(formdata=formdata, **kwargs)
        self.plan_id.choices = [(p.id, p.kind) for p in plans]


class QuantityForm(Form):
    quantity = IntegerField(_l("Quantity"), validators=[
        InputRequired(_l("Enter a quantity.")),
        NumberRange(1, MAX_QUANTITY, _l("Choose a quantity between 1 and %(max)s.", max=MAX_QUANTITY))])


class CheckoutForm(KeyedForm):
    coupon = coupon_code()
    key = submit_key()


class ConfirmForm(Form):
    """CSRF only: cancel, pay at the counter, start card payment."""
