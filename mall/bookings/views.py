"""Members reschedule or cancel a booking; staff mark bookings done at the counter;
merchandisers add a service's slots."""
from flask import Blueprint, abort, flash, redirect, url_for
from flask_babel import gettext as _
from flask_login import current_user

from ..accounts.models import Role
from ..catalog.models import Item
from ..checkout.forms import ConfirmForm
from ..checkout.orders import refund_order
from ..clock import now
from ..errors import DomainError, NotFound
from ..extensions import db
from ..instore.pickups import staff_stores
from ..instore.models import Store
from ..settings import current as current_settings
from ..web import local_to_utc, render, roles_required
from . import services
from .forms import SlotChoiceForm, SlotForm

bp = Blueprint("bookings", __name__)


def _cutoff() -> int:
    return current_settings().reschedule_cutoff_hours


@bp.route("/orders/<int:order_id>/booking/reschedule", methods=["POST"])
@roles_required(Role.MEMBER)
def reschedule(order_id: int):
    form = SlotChoiceForm()
    if not form.validate():
        flash(next(iter(form.errors.values()))[0], "error")
        return redirect(url_for("checkout.order", order_id=order_id))
    try:
        services.reschedule(order_id, current_user.id, form.slot_id.data, now=now(), cutoff_hours=_cutoff(),
                            address=form.address.data)
    except NotFound:
        abort(404)
    except DomainError as error:
        flash(str(error.message), "error")
    else:
        flash(_("Your booking was moved."), "success")
    return redirect(url_for("checkout.order", order_id=order_id))


@bp.route("/orders/<int:order_id>/booking/cancel", methods=["POST"])
@roles_required(Role.MEMBER)
def cancel(order_id: int):
    if not ConfirmForm().validate():
        abort(400)
    member_id = current_user.id

    def refund(oid):
        refund_order(oid, now=now(), actor_id=member_id, reason="booking cancelled by the member", actor="member")
    try:
        services.cancel(order_id, member_id, now=now(), cutoff_hours=_cutoff(), refund=refund)
    except NotFound:
        abort(404)
    except DomainError as error:
        flash(str(error.message), "error")
    else:
        flash(_("Your booking was cancelled and your points were returned."), "success")
    return redirect(url_for("checkout.order", order_id=order_id))


@bp.route("/counter/bookings")
@roles_required(Role.STORE_STAFF)
def counter_bookings():
    stores = staff_stores(current_user.id)
    bookings = services.store_bookings([s.id for s in stores], now())
    return render("bookings/counter.html", bookings=bookings, stores=stores, form=ConfirmForm())


@bp.route("/counter/bookings/<int:booking_id>/done", methods=["POST"])
@roles_required(Role.STORE_STAFF)
def mark_done(booking_id: int):
    if not ConfirmForm().validate():
        abort(400)
    try:
        services.mark_done(booking_id, staff_id=current_user.id,
                           store_ids=[s.id for s in staff_stores(current_user.id)], now=now())
    except NotFound:
        abort(404)
    except DomainError as error:
        flash(str(error.message), "error")
    else:
        flash(_("Marked done."), "success")
    return redirect(url_for("bookings.counter_bookings"))


@bp.route("/console/items/<int:item_id>/slots", methods=["GET", "POST"])
@roles_required(Role.MERCHANDISER)
def console_slots(item_id: int):
    item = db.session.get(Item, item_id) or abort(404)
    form = SlotForm()
    form.store_id.choices = [(s.id, s.name) for s in db.session.query(Store).order_by(Store.name)]
    if item.kind == "service" and form.validate_on_submit():
        try:
            services.add_slots(item, starts_at=local_to_utc(form.starts_at.data), minutes=form.minutes.data,
                               store_id=form.store_id.data, at_home=form.at_home.data, capacity=form.capacity.data,
                               repeat_days=form.repeat_days.data, now=now(), actor_id=current_user.id)
        except DomainError as error:
            field = getattr(form, error.field or "", None)
            (field.errors if field is not None else form.form_errors).append(str(error.message))
        else:
            flash(_("Slots added."), "success")
            return redirect(url_for("bookings.console_slots", item_id=item_id))
    return render("bookings/console.html", item=item, form=form, slots=services.upcoming_slots(item_id, now()),
                  status=422 if form.errors or form.form_errors else 200)


@bp.app_context_processor
def booking_helpers():
    return {"booking_for": _booking_panel, "open_slots_for": lambda item: services.open_slots(item.id, now())}


def _booking_panel(order):
    """Template helper for the order page's booking panel (read only)."""
    booking = services.booking_of(order.id)
    if booking is None:
        return None
    can_change = services.can_change(booking, now(), _cutoff())
    others = [s for s in services.open_slots(booking.slot.item_id, now()) if s.id != booking.slot_id] \
        if can_change and booking.reschedule_count == 0 else []
    return {"booking": booking, "can_change": can_change, "slots": others, "cutoff": _cutoff(),
            "form": ConfirmForm(formdata=None)}
