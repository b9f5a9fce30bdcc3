from decimal import Decimal

from flask_babel import lazy_gettext as _l
from wtforms import HiddenField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional, ValidationError

from ..forms import DecimalField, Form, IntegerField, money, whole_number
from .models import CASH_METHODS
from .purchases import LineInput


class MemberLookupForm(Form):
    class Meta:
        csrf = False  # a read-only GET search

    q = StringField(_l("Mobile number or member code"), validators=[
        DataRequired(_l("Enter a mobile number or a member code.")), Length(max=20)])


class PickupCodeForm(Form):
    """Look an order up by its pickup code (typed, or filled in by the camera)."""
    class Meta:
        csrf = False  # a read-only GET look-up

    code = StringField(_l("Pickup code"), validators=[
        DataRequired(_l("Type the code under the member's QR code, e.g. 7K-3QX9PM.")), Length(max=64)])
    store = IntegerField(validators=[Optional()])


def cash_method_choices():
    labels = {"cash": _l("Cash"), "card": _l("Bank card"), "wechat": _l("WeChat Pay"), "alipay": _l("Alipay")}
    return [("", _l("Choose how it was paid"))] + [(m, labels[m]) for m in CASH_METHODS]


class HandOverForm(Form):
    code = HiddenField(validators=[DataRequired(), Length(max=64)])
    store = HiddenField(validators=[DataRequired()])
    cash_method = SelectField(_l("Paid by"), choices=cash_method_choices, validate_choice=False,
                              validators=[Optional()])


class PurchaseForm(Form):
    """A till purchase that earns points when the member scans its receipt QR."""
    store = HiddenField(validators=[DataRequired()])
    receipt_no = StringField(_l("Receipt number"), validators=[
        DataRequired(_l("Enter the receipt number printed on the receipt.")), Length(max=40)])
    amount = DecimalField(_l("Amount paid"), places=2, validators=[
        InputRequired(_l("Enter the amount paid, e.g. 128.50.")),
        NumberRange(min=Decimal("0.01"), max=Decimal("1000000"), message=_l("Enter an amount between 0.01 and 1,000,000."))])

    def validate_amount(self, field):
        if field.data is not None and field.data != field.data.quantize(Decimal("0.01")):
            raise ValidationError(_l("Use at most two decimal places."))

    lines = TextAreaField(_l("Receipt lines (optional)"), validators=[Optional(), Length(max=8000)],
                          description=_l("One line per row: category, amount, SKU, quantity, name "
                                         "(the last three optional), e.g. fresh, 86.00, VEG-001, 2, Bok choy. "
                                         "They must add up to the amount paid."))

    def amount_minor(self) -> int:
        return int((self.amount.data * 100).to_integral_value())

    def validate_lines(self, field):
        try:
            self.line_inputs()
        except (ValueError, ArithmeticError):
            raise ValidationError(_l("One line per row: category, amount, SKU, quantity, name, "
                                     "e.g. fresh, 86.00, VEG-001, 2, Bok choy.")) from None

    def line_inputs(self) -> list | None:
        """The typed lines as purchases.LineInput, or None when there are none."""
        rows = [r for r in (self.lines.data or "").splitlines() if r.strip()]
        if not rows:
            return None
        out = []
        for row in rows:
            parts = [p.strip() for p in row.split(",", 4)]
            if len(parts) < 2:
                raise ValueError(row)
            amount = money(parts[1])  # the one number format forms and the API accept
            if amount != amount.quantize(Decimal("0.01")):
                raise ValueError(row)
            quantity = whole_number(parts[3]) if len(parts) > 3 and parts[3] else 1
            out.append(LineInput(amount_minor=int(amount * 100), category=parts[0],
                                 sku=parts[2] if len(parts) > 2 else "", quantity=quantity,
                                 name=parts[4] if len(parts) > 4 else ""))
        return out


class ApiKeyForm(Form):
    store_id = SelectField(_l("Store"), coerce=int, validate_choice=True)
    name = StringField(_l("Name"), description=_l("Which till or system uses it, e.g. “Till 3”."),
                       validators=[DataRequired(_l("Give the key a name, e.g. the till it is for.")), Length(max=80)])


class ConfirmForm(Form):
    """A POST with only the CSRF token: revoke."""


class StaffBindForm(Form):
    """HQ binds a store_staff account to a store. Choices are not checked here: the service
    refuses an unknown account or store with a message next to the field."""
    staff_id = SelectField(_l("Staff account"), coerce=whole_number, validate_choice=False,
                           validators=[InputRequired(_l("Choose a staff account."))])
    store_id = SelectField(_l("Store"), coerce=whole_number, validate_choice=False,
                           validators=[InputRequired(_l("Choose a store."))])
