from flask_babel import lazy_gettext as _l
from ..forms import Form
from wtforms import StringField
from wtforms.validators import DataRequired, Length


class MemberLookupForm(Form):
    class Meta:
        csrf = False  # a read-only GET search

    q = StringField(_l("Mobile number or member code"), validators=[
        DataRequired(_l("Enter a mobile number or a member code.")), Length(max=20)])
