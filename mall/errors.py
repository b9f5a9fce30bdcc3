"""Domain errors. Services raise them; views turn them into messages in the member's language."""
from flask_babel import format_decimal, gettext
from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString


class DomainError(Exception):
    """A refusal the user can act on. `message` is lazily translated at render time."""

    message = _l("That could not be done.")
    field: str | None = None  # the form field the message belongs next to, if any

    def __init__(self, message=None, *, field: str | None = None):
        if message is not None:
            self.message = message
        if field is not None:
            self.field = field
        super().__init__(str(self.message))


class InsufficientPoints(DomainError):
    message = _l("You don't have enough points for that.")

    def __init__(self, needed: int, available: int):
        self.needed, self.available = needed, available
        # Lazy, so the numbers are grouped ("1,800") in the locale of whoever reads them.
        super().__init__(LazyString(lambda: gettext("You need %(needed)s points but have %(available)s.",
                                                    needed=format_decimal(needed), available=format_decimal(available))))


class InvalidAmount(DomainError):
    message = _l("The amount must be a whole number above zero.")


class RefundTooLarge(DomainError):
    message = _l("That refund is more than what is left to refund.")


class NotFound(DomainError):
    message = _l("We couldn't find that.")


class AccountExists(DomainError):
    message = _l("An account with that email or mobile number already exists.")
    field = "identifier"


class BadCredentials(DomainError):
    message = _l("That email/mobile and password don't match.")
    field = "password"


class AccountFrozen(DomainError):
    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(_l("Your account is frozen: %(reason)s. Please contact member services.",
                            reason=reason))


class ItemLocked(DomainError):
    message = _l("Your tier can't redeem this item yet.")


class LockUnavailable(DomainError):
    message = _l("We're busy right now. Nothing was changed; please try again in a moment.")
