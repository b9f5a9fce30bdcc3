from decimal import Decimal

from flask_babel import lazy_gettext as _l
from wtforms import (BooleanField, FieldList, FormField, SelectField, SelectMultipleField, StringField,
                     TextAreaField)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional, ValidationError

from flask_wtf.file import FileAllowed, FileField, FileRequired

from ..forms import DateTimeLocalField, Form, IntegerField, money
from ..templating import localized


class MoneyField(StringField):
    """Cash typed as ¥9.90 or 9.9, kept as integer minor units (990)."""

    def process_formdata(self, valuelist):
        self.data = None
        raw = (valuelist[0] if valuelist else "").strip().lstrip("¥").replace(",", "")
        if not raw:
            return
        self.data = int(money(raw) * 100)  # one format (mall/forms.py), within the INTEGER range

    def _value(self):
        return "" if self.data is None else f"{Decimal(self.data) / 100:.2f}"


class PlanSubForm(Form):
    class Meta:
        csrf = False

    kind = SelectField(_l("Kind"), choices=[("", _l("(remove)")), ("points", _l("Points only")),
                                            ("points_cash", _l("Points + cash")),
                                            ("cash_offset", _l("Cash price, points offset"))],
                       validators=[Optional()])
    points = IntegerField(_l("Points"), default=0, validators=[Optional(), NumberRange(min=0)])
    cash = MoneyField(_l("Cash (¥)"))
    max_offset_pct = IntegerField(_l("Offset cap, percent"), validators=[Optional(), NumberRange(1, 100)])

    # Each plan's own row says what is missing; catalog.management.check_plan is the guard
    # behind these, with the same messages.
    def validate_points(self, field):
        if self.kind.data == "points_cash" and not (field.data or 0) > 0:
            raise ValidationError(_l("Points + cash needs both points and cash above zero."))

    def validate_cash(self, field):
        if self.kind.data == "points_cash" and not (field.data or 0) > 0:
            raise ValidationError(_l("Points + cash needs both points and cash above zero."))
        if self.kind.data == "cash_offset" and not (field.data or 0) > 0:
            raise ValidationError(_l("A cash price plan needs a cash price above zero."))

    def validate_max_offset_pct(self, field):
        if self.kind.data == "cash_offset" and not 1 <= (field.data or 0) <= 100:
            raise ValidationError(_l("The points offset cap must be between 1% and 100%."))


KIND_CHOICES = [("goods", _l("Goods, picked up at a store")), ("coupon", _l("Coupon")),
                ("red_packet", _l("Red packet")), ("service", _l("Service, booked in a time slot")),
                ("right", _l("Right, held for a time"))]
RIGHT_CHOICES = [("", _l("(not a right)")), ("priority_purchase", _l("Priority purchase")),
                 ("free_delivery", _l("Free delivery")), ("exclusive_service", _l("Exclusive service line"))]
# Free delivery is not sold: no delivery fee exists yet (docs/wallet.md, mall/wallet/specs.py).
COUPON_KIND_CHOICES = [("", _l("(not a coupon)")), ("threshold", _l("Spend X, save Y")),
                       ("percent", _l("Percent off, with an optional cap")),
                       ("amount", _l("Money off, no minimum"))]
STACK_CHOICES = [("threshold", _l("Spend X, save Y")), ("percent", _l("Percent off, with an optional cap")),
                 ("amount", _l("Money off, no minimum")), ("free_delivery", _l("Free delivery")),
                 ("red_packet", _l("Red packet"))]


class ItemForm(Form):
    kind = SelectField(_l("Kind of reward"), choices=KIND_CHOICES, default="goods")
    right_kind = SelectField(_l("Right it grants"), choices=RIGHT_CHOICES, default="", validators=[Optional()])
    right_days = IntegerField(_l("Right valid for (days)"), validators=[
        Optional(), NumberRange(min=1, max=3660, message=_l("Between 1 and 3660 days."))])
    # A coupon item's coupon (mall/wallet/specs.py); checked in validate() below.
    coupon_kind = SelectField(_l("Coupon kind"), choices=COUPON_KIND_CHOICES, default="", validators=[Optional()],
                              description=_l("Free delivery coupons are not sold: there is no delivery fee yet."))
    coupon_value = MoneyField(_l("Value off (¥)"))
    coupon_percent = IntegerField(_l("Percent off"), validators=[
        Optional(), NumberRange(min=1, max=99, message=_l("The percent off must be between 1 and 99."))])
    coupon_cap = MoneyField(_l("Cap (¥)"), description=_l("Most a percent coupon takes off; empty for no cap."))
    coupon_threshold = MoneyField(_l("Spend at least (¥)"))
    coupon_valid_days = IntegerField(_l("Valid for (days from issue)"), validators=[
        Optional(), NumberRange(min=1, max=3650, message=_l("Between 1 and 3650 days."))],
        description=_l("Or leave empty and give fixed dates."))
    coupon_valid_from = DateTimeLocalField(_l("Valid from"), format="%Y-%m-%dT%H:%M", validators=[Optional()])
    coupon_valid_until = DateTimeLocalField(_l("Valid until"), format="%Y-%m-%dT%H:%M", validators=[Optional()])
    coupon_categories = SelectMultipleField(_l("Eligible categories"), coerce=int, validators=[Optional()],
                                            description=_l("None chosen: every line counts."))
    coupon_stacks_with = SelectMultipleField(_l("May be combined with"), choices=STACK_CHOICES,
                                             validators=[Optional()],
                                             description=_l("None chosen: used alone."))
    coupon_limit = IntegerField(_l("Coupons one member may hold"), validators=[
        Optional(), NumberRange(min=1, message=_l("The limit per member must be 1 or more, or empty for no limit."))])
    coupon_active = BooleanField(_l("Being issued"), default=True)
    sku = StringField(_l("SKU"), validators=[DataRequired(_l("Give the item a SKU.")), Length(max=40)])
    name = StringField(_l("Name"), validators=[DataRequired(_l("Give the item a name.")), Length(max=120)])
    name_zh = StringField(_l("Name in Chinese"), validators=[Optional(), Length(max=120)])
    description = TextAreaField(_l("Description"), validators=[Optional(), Length(max=4000)])
    description_zh = TextAreaField(_l("Description in Chinese"), validators=[Optional(), Length(max=4000)])
    category_id = SelectField(_l("Category"), coerce=int, validators=[InputRequired(_l("Choose a category."))])
    min_tier_id = SelectField(_l("Lowest tier that may redeem"), coerce=int, validators=[Optional()])
    points_price = IntegerField(_l("Points price (list)"), validators=[
        InputRequired(_l("Enter the points price.")),
        NumberRange(min=1, message=_l("The points price must be a whole number above zero."))])
    per_member_limit = IntegerField(_l("Limit per member"), validators=[
        Optional(), NumberRange(min=1, message=_l("The limit per member must be 1 or more, or empty for no limit."))],
        description=_l("Empty for no limit."))
    available_from = DateTimeLocalField(_l("On sale from"), format="%Y-%m-%dT%H:%M", validators=[Optional()])
    available_until = DateTimeLocalField(_l("On sale until"), format="%Y-%m-%dT%H:%M", validators=[Optional()])

    def validate(self, extra_validators=None):
        """A right item needs its grant (which right, how many days): checked here, beside
        the fields, because Optional() ends their own validation when they are empty."""
        ok = super().validate(extra_validators)
        if self.kind.data == "right":
            if not self.right_kind.data:
                self.right_kind.errors = [*self.right_kind.errors, _l("Choose which right the item grants.")]
                ok = False
            if not self.right_days.data and not self.right_days.errors:
                self.right_days.errors = [*self.right_days.errors, _l("Enter how many days the right lasts.")]
                ok = False
        if self.kind.data == "coupon":
            ok = self._validate_coupon() and ok
        return ok

    def _complain(self, field, message) -> bool:
        if not field.errors:
            field.errors = [*field.errors, message]
        return False

    def _validate_coupon(self) -> bool:
        ok, kind = True, self.coupon_kind.data
        if kind not in ("threshold", "percent", "amount"):
            return self._complain(self.coupon_kind, _l("Choose the kind of coupon."))
        value = self.coupon_value.data
        if kind in ("threshold", "amount") and not (value or 0) > 0:
            ok = self._complain(self.coupon_value, _l("The value off must be above zero."))
        if kind == "threshold" and (value or 0) > 0 and (self.coupon_threshold.data or 0) < value:
            ok = self._complain(self.coupon_threshold, _l("The threshold must be at least the value off."))
        if kind == "percent" and not self.coupon_percent.data:
            ok = self._complain(self.coupon_percent, _l("The percent off must be between 1 and 99."))
        if self.coupon_cap.data is not None and self.coupon_cap.data <= 0:
            ok = self._complain(self.coupon_cap, _l("The cap must be above zero, or empty for none."))
        days, until, start = self.coupon_valid_days.data, self.coupon_valid_until.data, self.coupon_valid_from.data
        if self.coupon_valid_days.errors:
            ok = False
        elif (days is None) == (until is None):
            ok = self._complain(self.coupon_valid_days,
                                _l("Give either a number of days from issue or an end date, not both."))
        elif until and start and until <= start:
            ok = self._complain(self.coupon_valid_until, _l("The validity must end after it starts."))
        return ok
    plans = FieldList(FormField(PlanSubForm), min_entries=3, max_entries=6)

    def __init__(self, *args, categories=(), tiers=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.category_id.choices = [(c.id, localized(c, "name")) for c in categories]
        self.coupon_categories.choices = [(c.id, localized(c, "name")) for c in categories]
        self.min_tier_id.choices = [(0, _l("Every member"))] + [(t.id, localized(t, "name")) for t in tiers]
        self.tier_fields = [(t, self[f"tier_price_{t.id}"]) for t in tiers]

    def validate_available_until(self, field):
        if field.data and self.available_from.data and field.data <= self.available_from.data:
            raise ValidationError(_l("The window must end after it starts."))


def item_form(tiers, categories, *args, **kwargs) -> ItemForm:
    """An ItemForm with one optional price field per tier."""
    attrs = {f"tier_price_{t.id}": IntegerField(_l("%(tier)s price", tier=localized(t, "name")), validators=[
        Optional(), NumberRange(min=1, message=_l("A tier price must be a whole number above zero."))])
        for t in tiers}
    cls = type("TieredItemForm", (ItemForm,), attrs)
    return cls(*args, categories=categories, tiers=tiers, **kwargs)


class SubstitutesForm(Form):
    first = SelectField(_l("First choice"), coerce=int, validators=[Optional()])
    second = SelectField(_l("Second choice"), coerce=int, validators=[Optional()])
    third = SelectField(_l("Third choice"), coerce=int, validators=[Optional()])

    def __init__(self, *args, items=(), **kwargs):
        super().__init__(*args, **kwargs)
        choices = [(0, _l("(none)"))] + [(i.id, f"{i.sku} · {i.name}") for i in items]
        for field in (self.first, self.second, self.third):
            field.choices = choices


class ReceiveForm(Form):
    quantity = IntegerField(_l("Quantity received"), validators=[
        InputRequired(_l("Enter a quantity.")), NumberRange(min=1, message=_l("Receive at least 1 unit."))])
    reference = StringField(_l("Delivery reference"), validators=[
        DataRequired(_l("Enter the delivery note or PO number.")), Length(max=80)])


class AdjustForm(Form):
    change = IntegerField(_l("Change (+ or −)"), validators=[InputRequired(_l("Enter a change, e.g. -2."))])
    reason = StringField(_l("Reason"), validators=[DataRequired(_l("Say why the stock changes.")), Length(max=200)])


class ThresholdForm(Form):
    threshold = IntegerField(_l("Low-stock warning at"), validators=[
        InputRequired(), NumberRange(min=0, message=_l("Use 0 or more."))])


class PublishForm(Form):
    publish = BooleanField()


class CategoryForm(Form):
    slug = StringField(_l("Short name for links"), validators=[DataRequired(), Length(max=40)])
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=60)])
    name_zh = StringField(_l("Name in Chinese"), validators=[Optional(), Length(max=60)])


class ImportForm(Form):
    file = FileField(_l("CSV file"), validators=[
        FileRequired(_l("Choose a CSV file.")), FileAllowed(["csv"], _l("Only .csv files."))],
        description=_l("Columns: sku, name, name_zh, category, min_tier, points_price, per_member_limit, published, receive."))


class ImageForm(Form):
    image = FileField(_l("Image"), validators=[
        FileRequired(_l("Choose an image.")),
        FileAllowed(["jpg", "jpeg", "png", "webp"], _l("Use a JPEG, PNG or WebP image."))],
        description=_l("Up to 5 MB. It is resized and a thumbnail is made."))


class PurchaseCategoryEditForm(Form):
    """A merchant purchase category's names and whether it earns (its slug never changes:
    past receipt lines name it)."""
    name = StringField(_l("Name"), validators=[DataRequired(_l("Give the category a name.")), Length(max=60)])
    name_zh = StringField(_l("Name in Chinese"), validators=[Optional(), Length(max=60)])
    excluded = BooleanField(_l("Excluded from earning"),
                            description=_l("Lines of this category never earn points (gift cards, tobacco, deposits)."))


class PurchaseCategoryForm(PurchaseCategoryEditForm):
    slug = StringField(_l("Slug"), validators=[DataRequired(_l("Give the category a slug.")), Length(max=40)],
                       description=_l("What tills send on a receipt line, e.g. gift-cards. It can't be changed later."))


class DeleteForm(Form):
    """A POST with only the CSRF token: delete."""
