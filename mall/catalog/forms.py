from ..forms import Form


class PinTargetForm(Form):
    """CSRF only: the item comes from the URL."""
