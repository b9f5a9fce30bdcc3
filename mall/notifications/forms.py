from flask_babel import lazy_gettext as _l
from wtforms import SelectMultipleField
from wtforms.widgets import CheckboxInput, ListWidget

from ..forms import Form
from .models import NotificationKind

KIND_LABELS = {
    NotificationKind.EXPIRY_REMINDER.value: _l("Points about to expire"),
    NotificationKind.TIER_CHANGE.value: _l("Tier changes"),
    NotificationKind.PRESALE.value: _l("Presale arrivals and offers"),
    NotificationKind.ORDER_STATUS.value: _l("Order status"),
    NotificationKind.APPEAL.value: _l("Answers to my appeals"),
}


class PreferencesForm(Form):
    kinds = SelectMultipleField(_l("Send me"), choices=list(KIND_LABELS.items()),
                                widget=ListWidget(prefix_label=False), option_widget=CheckboxInput())
