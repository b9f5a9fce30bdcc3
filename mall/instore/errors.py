"""Refusals at the counter and from the POS API. Each has a stable `code` (the API's error
code, part of its contract) and a message in the reader's language."""
from flask_babel import format_datetime, lazy_gettext as _l

from ..errors import DomainError


class InstoreError(DomainError):
    code = "refused"


class InvalidCode(InstoreError):
    code = "invalid_code"
    field = "code"
    message = _l("This code is not valid. Check it and try again.")


class PickupExpired(InstoreError):
    code = "code_expired"
    field = "code"

    def __init__(self, deadline):
        super().__init__(_l("This pickup code expired on %(time)s. Please contact member services.",
                            time=format_datetime(deadline, "short")))


class AlreadyPickedUp(InstoreError):
    code = "already_picked_up"
    field = "code"

    def __init__(self, store: str, at, staff: str):
        self.store, self.at, self.staff = store, at, staff
        super().__init__(_l("Already picked up at %(store)s, %(time)s, by %(staff)s.",
                            store=store, time=format_datetime(at, "short"), staff=staff))


class NotReadyForPickup(InstoreError):
    code = "not_ready"
    field = "code"
    message = _l("This order is not ready for pickup.")


class WrongStore(InstoreError):
    code = "wrong_store"
    field = "code"

    def __init__(self, allowed: list[str]):
        self.allowed = allowed
        if allowed:
            super().__init__(_l("This order can't be handed over here. It can be picked up at: %(stores)s.",
                                stores=", ".join(allowed)))
        else:
            super().__init__(_l("This order can't be handed over at any store. Please contact member services."))


class NotYourStore(InstoreError):
    code = "store_not_allowed"
    message = _l("You are not assigned to this store.")


class CashMethodNeeded(InstoreError):
    code = "cash_method_required"
    field = "cash_method"
    message = _l("Take the cash part and choose how it was paid.")


class MemberFrozen(InstoreError):
    code = "member_frozen"
    message = _l("This account is frozen. Do not issue or redeem points.")


class MemberNotFound(InstoreError):
    code = "member_not_found"
    field = "member"
    message = _l("No member has that mobile number or member code.")


class PurchaseNotFound(InstoreError):
    code = "purchase_not_found"
    message = _l("There is no purchase with that receipt number at this store.")


class ReceiptMismatch(InstoreError):
    code = "receipt_conflict"
    field = "receipt_no"
    message = _l("That receipt number was already used for a different amount or member.")


class InvalidReceipt(InstoreError):
    code = "invalid_receipt"
    field = "receipt_no"
    message = _l("Enter the receipt number printed on the receipt (up to 40 characters).")


class ReceiptExpired(InstoreError):
    code = "code_expired"
    message = _l("This receipt code has expired. Points can be claimed within the time printed on the receipt.")


class ReceiptClaimedByOther(InstoreError):
    code = "claimed_by_another_member"
    message = _l("This receipt's points were already claimed by another member.")


class PurchaseRefunded(InstoreError):
    code = "purchase_refunded"
    message = _l("This purchase was refunded, so it earns no points.")


class NothingToEarn(InstoreError):
    code = "nothing_to_earn"
    field = "amount"
    message = _l("This amount is too small to earn a point.")


class InvalidApiKey(InstoreError):
    code = "invalid_api_key"
    message = _l("The API key is missing or not valid.")


class RevokedApiKey(InstoreError):
    code = "revoked_api_key"
    message = _l("This API key was revoked.")


class InvalidLines(InstoreError):
    """A purchase's or a refund's lines don't add up or name something unknown."""
    code = "invalid_lines"
    field = "lines"
    message = _l("Check the purchase lines.")


class RefundConflict(InstoreError):
    code = "refund_conflict"
    field = "refund_no"
    message = _l("That refund number was already used for other lines.")
