from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileAllowed, FileField
from wtforms import HiddenField, TextAreaField
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from ..checkout.forms import KeyedForm, submit_key
from ..forms import Form, IntegerField
from .models import REASON_MAX, Appeal
from .services import MAX_ADJUSTMENT


class AppealForm(KeyedForm):
    """"Question this": what is wrong, and a photo if it helps (a receipt, the item)."""

    entry = HiddenField()
    order = HiddenField()
    reason = TextAreaField(_l("What is wrong?"), validators=[
        DataRequired(_l("Tell us what is wrong.")),
        Length(max=REASON_MAX, message=_l("Keep it under %(n)s characters.", n=REASON_MAX))])
    photo = FileField(_l("Photo (optional)"), validators=[
        Optional(), FileAllowed(["jpg", "jpeg", "png", "webp"], _l("Use a JPEG, PNG or WebP image."))],
        description=_l("A receipt or the item, up to 5 MB."))
    # The appeals' key column is shorter than an order's: a longer key is refused here (422)
    key = submit_key(max_length=Appeal.__table__.c.idempotency_key.type.length)


class ResolveForm(Form):
    """HQ's answer: a reply, with points credited when the member was right."""

    points = IntegerField(_l("Points to credit (leave empty to reply only)"), validators=[
        Optional(), NumberRange(1, MAX_ADJUSTMENT, _l("Between 1 and %(max)s points.", max=MAX_ADJUSTMENT))])
    reply = TextAreaField(_l("Reply to the member"), validators=[
        DataRequired(_l("Write a reply to the member.")),
        Length(max=REASON_MAX, message=_l("Keep it under %(n)s characters.", n=REASON_MAX))])
