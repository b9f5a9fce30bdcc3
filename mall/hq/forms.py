from flask_babel import lazy_gettext as _l
from wtforms import StringField
from wtforms.validators import DataRequired, Length

from ..forms import Form


class OrderLookupForm(Form):
    class Meta:
        csrf = False  # a read-only GET search

    number = StringField(_l("Order number"), validators=[DataRequired(_l("Enter an order number.")), Length(max=20)])


class RefundForm(Form):
    reason = StringField(_l("Reason (the member sees it in the timeline)"), validators=[
        DataRequired(_l("Give a reason for the refund.")), Length(max=200)])
