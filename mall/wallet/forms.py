"""Forms of the wallet pages: HQ issuing a coupon, the counter checking and spending one."""
import uuid

from flask_babel import lazy_gettext as _l
from flask_wtf.form import _Auto
from wtforms import HiddenField, SelectField, StringField
from wtforms.validators import DataRequired, Length

from ..forms import Form, IntegerField, whole_number


class IssueForm(Form):
    """HQ gives a member a coupon. `key` makes a double-tapped submit one coupon."""
    member = StringField(_l("Member's email or mobile number"), validators=[
        DataRequired(_l("Enter the member's email or mobile number.")), Length(max=254)])
    spec_id = SelectField(_l("Coupon"), coerce=whole_number, validate_choice=False,
                          validators=[DataRequired(_l("Choose a coupon."))])
    reason = StringField(_l("Reason"), validators=[DataRequired(_l("Give a reason; it is kept in the audit log.")),
                                                  Length(max=255)])
    key = HiddenField(validators=[DataRequired(_l("This page is out of date: reload it and try again.")),
                                  Length(max=60)])

    def __init__(self, formdata=_Auto, specs=(), **kwargs):
        super().__init__(formdata=formdata, **kwargs)
        self.spec_id.choices = [(s.id, s.name) for s in specs]
        if not self.key.data and not self.is_submitted():  # a submit without its page's key is refused
            self.key.data = uuid.uuid4().hex


class CounterCouponForm(Form):
    """The counter checks a coupon against a receipt, or spends it on the receipt."""
    store = IntegerField(validators=[DataRequired()])
    receipt_no = StringField(_l("Receipt number"), validators=[
        DataRequired(_l("Enter the receipt number printed on the receipt.")), Length(max=40)])
    code = StringField(_l("Coupon code"), validators=[
        DataRequired(_l("Scan the member's coupon QR or type its short code.")), Length(max=64)])
    action = SelectField(choices=[("check", "check"), ("spend", "spend")], default="check")
