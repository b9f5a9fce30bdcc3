from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, SelectField, StringField
from wtforms.validators import Length, Optional

from ..forms import Form
from .services import CATALOG_SORTS


class PinTargetForm(Form):
    """CSRF only: the item comes from the URL."""


SORT_LABELS = {"": _l("Recommended"), "points_asc": _l("Points: low to high"),
               "points_desc": _l("Points: high to low"), "newest": _l("Newest"),
               "popular": _l("Most popular")}


KIND_LABELS = {"": _l("All kinds"), "goods": _l("Goods"), "coupon": _l("Coupons"), "red_packet": _l("Red packets"),
               "service": _l("Services"), "right": _l("Rights")}


class CatalogQueryForm(Form):
    """The catalogue's search, sort and filters: a GET form, so every choice is in the URL
    (a link to share, a page that works without JavaScript). A value out of bounds is
    dropped with a message, never passed on."""

    class Meta:
        csrf = False

    q = StringField(_l("Search rewards"), validators=[Optional(), Length(max=80)],
                    filters=[lambda v: v.strip() if isinstance(v, str) else v])
    sort = SelectField(_l("Sort by"), choices=[(key, SORT_LABELS[key]) for key in CATALOG_SORTS], default="")
    category = StringField(_l("Category"), validators=[Optional(), Length(max=40)])
    affordable = BooleanField(_l("I can afford it now"), false_values=("", "0", "false"))
    kind = SelectField(_l("Kind"), choices=list(KIND_LABELS.items()), default="")

    def query(self) -> dict:
        """The valid choices as URL arguments, empty ones left out."""
        self.validate()
        args = {"q": self.q.data, "sort": self.sort.data, "category": self.category.data,
                "affordable": 1 if self.affordable.data else None, "kind": self.kind.data}
        return {name: value for name, value in args.items()
                if value and not getattr(self, name).errors}
