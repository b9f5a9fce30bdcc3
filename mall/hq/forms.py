from flask_babel import lazy_gettext as _l
from wtforms import EmailField, HiddenField, RadioField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Email, Length, NumberRange, Optional

from ..forms import DateField, Form, IntegerField, whole_number


class OrderLookupForm(Form):
    class Meta:
        csrf = False  # a read-only GET search

    number = StringField(_l("Order number"), validators=[DataRequired(_l("Enter an order number.")), Length(max=20)])


class RefundForm(Form):
    reason = StringField(_l("Reason (the member sees it in the timeline)"), validators=[
        DataRequired(_l("Give a reason for the refund.")), Length(max=200)])


def _optional_int(value):
    try:
        return whole_number(value) if value not in (None, "") else None
    except ValueError:  # not a number, or beyond any store id
        return None


class DashboardFilterForm(Form):
    """The dashboard's filters: a read-only GET, so links and the back button keep them."""

    class Meta:
        csrf = False

    period = SelectField(_l("Period"), choices=[("30d", _l("Last 30 days")), ("90d", _l("Last 90 days")),
                                                 ("365d", _l("Last 12 months")), ("all", _l("All time"))],
                         validators=[Optional()], default="30d")
    start = DateField(_l("From"), validators=[Optional()])
    end = DateField(_l("To"), validators=[Optional()])
    store = SelectField(_l("Store"), coerce=_optional_int, validators=[Optional()], validate_choice=False)
    region = SelectField(_l("Region"), validators=[Optional()], validate_choice=False)
    category = SelectField(_l("Category"), validators=[Optional()], validate_choice=False)
    grain = SelectField(_l("Group by"), choices=[("", _l("Automatic")), ("day", _l("Day")), ("week", _l("Week")),
                                                 ("month", _l("Month"))], validators=[Optional()])


class BudgetForm(Form):
    store_id = SelectField(_l("Store"), coerce=int, validators=[DataRequired(_l("Choose a store."))])
    monthly_points = IntegerField(_l("Monthly budget (points)"), validators=[
        DataRequired(_l("Enter the monthly budget in points.")),
        NumberRange(min=1, max=1_000_000_000, message=_l("Enter a whole number above zero."))])
    when_exhausted = RadioField(_l("When the budget is used up"), default="hold", choices=[
        ("hold", _l("Hold further grants for HQ approval")), ("refuse", _l("Refuse further grants"))])
    alert_email = EmailField(_l("Store's email for budget warnings"), validators=[
        Optional(), Email(_l("Enter a valid email address.")), Length(max=254)])


class ProgrammeBudgetForm(Form):
    """A programme budget: for a campaign (an earning rule) or a task kind, where no store's
    budget applies. `target` is "campaign:<rule key>" or "task:<kind>" (choices set by the view)."""
    target = SelectField(_l("Budget for"), validators=[DataRequired(_l("Choose a campaign or a task."))])
    monthly_points = IntegerField(_l("Monthly budget (points)"), validators=[
        DataRequired(_l("Enter the monthly budget in points.")),
        NumberRange(min=1, max=1_000_000_000, message=_l("Enter a whole number above zero."))])
    when_exhausted = RadioField(_l("When the budget is used up"), default="hold", choices=[
        ("hold", _l("Hold further grants for HQ approval")), ("refuse", _l("Refuse further grants"))])


class GrantForm(Form):
    store_id = SelectField(_l("Store"), coerce=int, validators=[DataRequired(_l("Choose a store."))])
    member = StringField(_l("Member (email, mobile or member code)"), validators=[
        DataRequired(_l("Enter the member's email, mobile number or member code.")), Length(max=254)])
    points = IntegerField(_l("Points"), validators=[
        DataRequired(_l("Enter the points to grant.")),
        NumberRange(min=1, max=100_000, message=_l("Enter between 1 and 100,000 points."))])
    note = StringField(_l("Reason (shown on the member's statement)"), validators=[
        DataRequired(_l("Give a reason for the grant.")), Length(max=200)])
    key = HiddenField(validators=[DataRequired(), Length(max=40)])  # one submit, one grant


class DecisionForm(Form):
    decision = RadioField(_l("Decision"), choices=[("approve", _l("Approve")), ("reject", _l("Reject"))],
                          validators=[DataRequired(_l("Choose approve or reject."))])
    reason = StringField(_l("Reason (kept in the audit log)"), validators=[
        DataRequired(_l("Give a reason for the decision.")), Length(max=200)])


class FreezeForm(Form):
    reason = TextAreaField(_l("Reason (the member sees it when logging in)"), validators=[
        DataRequired(_l("Give a reason; the member will see it.")), Length(max=200)])


class UnfreezeForm(Form):
    reason = StringField(_l("Reason (kept in the audit log)"), validators=[
        DataRequired(_l("Give a reason for unfreezing.")), Length(max=200)])


class MemberSearchForm(Form):
    class Meta:
        csrf = False

    q = StringField(_l("Email, mobile number or member code"), validators=[
        DataRequired(_l("Enter an email, a mobile number or a member code.")), Length(max=254)])
