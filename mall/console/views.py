"""The merchandiser's console: items, plans, tier prices, substitutes, stock and history, and the
merchant's purchase categories (receipt lines outside the catalogue)."""
from flask import Blueprint, abort, current_app, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from ..accounts.models import Role
from ..catalog import management, substitutes
from ..catalog.images import store_image
from ..catalog.management import ItemData, PlanData
from ..catalog.models import Category, Item
from ..catalog.services import MERCH_SORTS, categories, merchandise
from ..clock import now
from ..errors import DomainError, NotFound
from ..extensions import db
from ..instore import categories as purchase_categories
from ..inventory import services as stock
from ..points.tiers import all_tiers
from ..presale import services as presale
from ..rights import services as rights
from ..wallet import specs as coupons
from ..web import int_arg, local_to_utc, refuse, render, roles_required, utc_to_local
from . import csv_io
from .forms import (AdjustForm, CategoryForm, DeleteForm, ImageForm, ImportForm, PublishForm, PurchaseCategoryEditForm,
                    PurchaseCategoryForm, ReceiveForm, SubstitutesForm, ThresholdForm, item_form)

bp = Blueprint("console", __name__, url_prefix="/console")
MERCH = Role.MERCHANDISER


@bp.route("")
@roles_required(MERCH)
def index():
    search = (request.args.get("q") or "")[:80]
    sort = request.args.get("sort") if request.args.get("sort") in MERCH_SORTS else "sku"
    state = request.args.get("state") if request.args.get("state") in ("published", "hidden", "low") else ""
    descending = request.args.get("dir") == "desc"
    rows, page, pages = merchandise(search=search, sort=sort, descending=descending, state=state,
                                    page=int_arg("page"))
    return render("console/index.html", "console/_rows.html", rows=rows, page=page, pages=pages,
                  search=search, sort=sort, descending=descending, state=state)


def _form(item=None):
    form = item_form(all_tiers(), categories(), obj=item)
    if item is not None and request.method == "GET":
        form.min_tier_id.data = item.min_tier_id or 0
        form.available_from.data = utc_to_local(item.available_from)
        form.available_until.data = utc_to_local(item.available_until)
        spec = rights.spec_for(item.id)
        if spec is not None:
            form.right_kind.data, form.right_days.data = spec.right_kind, spec.valid_days
        _load_coupon(form, coupons.spec_for_item(item.id))
        for tier, field in form.tier_fields:
            field.data = next((tp.points for tp in item.tier_prices if tp.tier_id == tier.id), None)
        for entry, plan in zip(form.plans.entries, item.plans):
            entry.form.kind.data, entry.form.points.data = plan.kind, plan.points
            entry.form.cash.data, entry.form.max_offset_pct.data = plan.cash_minor or None, plan.max_offset_pct
    elif item is None and request.method == "GET":
        form.plans.entries[0].form.kind.data = "points"
    return form


def _data(form) -> ItemData:
    utc = local_to_utc
    plans = [PlanData(kind=e.form.kind.data, points=e.form.points.data or 0, cash_minor=e.form.cash.data or 0,
                      max_offset_pct=e.form.max_offset_pct.data)
             for e in form.plans.entries if e.form.kind.data]
    return ItemData(sku=form.sku.data, name=form.name.data, name_zh=form.name_zh.data or None,
                    description=form.description.data or "", description_zh=form.description_zh.data or None,
                    category_id=form.category_id.data, min_tier_id=form.min_tier_id.data or None,
                    points_price=form.points_price.data, per_member_limit=form.per_member_limit.data,
                    available_from=utc(form.available_from.data), available_until=utc(form.available_until.data),
                    tier_prices={t.id: f.data for t, f in form.tier_fields if f.data}, plans=plans,
                    kind=form.kind.data)


def _save_right(item_id: int, form) -> None:
    """A right item's spec (what it grants, for how long) beside the item (mall/rights)."""
    if form.kind.data == "right":
        rights.save_spec(item_id, form.right_kind.data, form.right_days.data)


def _load_coupon(form, spec) -> None:
    if spec is None:
        return
    form.coupon_kind.data, form.coupon_value.data, form.coupon_percent.data = spec.kind, spec.value_minor, spec.percent
    form.coupon_cap.data, form.coupon_threshold.data = spec.cap_minor, spec.threshold_minor or None
    form.coupon_valid_days.data = spec.valid_days
    form.coupon_valid_from.data, form.coupon_valid_until.data = utc_to_local(spec.valid_from), utc_to_local(spec.valid_until)
    form.coupon_categories.data = [c.id for c in spec.categories]
    form.coupon_stacks_with.data = [k for k in spec.stacks_with.split(",") if k]
    form.coupon_limit.data, form.coupon_active.data = spec.per_member_limit, spec.active


def _save_coupon(item_id: int, form) -> None:
    """A coupon item's coupon (mall/wallet/specs.py) beside the item, in its history."""
    if form.kind.data != "coupon":
        return
    days = form.coupon_valid_days.data
    draft = coupons.CouponDraft(
        kind=form.coupon_kind.data, value_minor=form.coupon_value.data, percent=form.coupon_percent.data,
        cap_minor=form.coupon_cap.data, threshold_minor=form.coupon_threshold.data or 0,
        valid_from=None if days else local_to_utc(form.coupon_valid_from.data),
        valid_until=None if days else local_to_utc(form.coupon_valid_until.data), valid_days=days,
        category_ids=tuple(form.coupon_categories.data or ()), stacks_with=tuple(form.coupon_stacks_with.data or ()),
        per_member_limit=form.coupon_limit.data, active=bool(form.coupon_active.data))
    coupons.save_coupon_spec(item_id, draft, name=form.name.data.strip(), name_zh=(form.name_zh.data or "").strip(),
                             actor_id=current_user.id, now=now())


@bp.route("/items/new", methods=["GET", "POST"])
@roles_required(MERCH)
def new_item():
    form = _form()
    if form.validate_on_submit():
        try:
            item = management.create_item(_data(form), actor_id=current_user.id, now=now())
            _save_right(item.id, form)
            _save_coupon(item.id, form)
        except DomainError as error:
            refuse(form, error)
        else:
            flash(_("Created %(name)s. It stays hidden until you publish it.", name=item.name), "success")
            return redirect(url_for("console.edit_item", item_id=item.id))
    return render("console/item_form.html", form=form, item=None, status=422 if form.errors or form.form_errors else 200)


@bp.route("/items/<int:item_id>", methods=["GET", "POST"])
@roles_required(MERCH)
def edit_item(item_id: int):
    item = db.session.get(Item, item_id) or abort(404)
    form = _form(item)
    if form.validate_on_submit():
        try:
            management.update_item(item_id, _data(form), actor_id=current_user.id, now=now())
            _save_right(item_id, form)
            _save_coupon(item_id, form)
        except DomainError as error:
            refuse(form, error)
        else:
            flash(_("Saved."), "success")
            return redirect(url_for("console.edit_item", item_id=item_id))
    return render("console/item_form.html", form=form, item=item, publish_form=PublishForm(), image_form=ImageForm(),
                  status=422 if form.errors or form.form_errors else 200)


@bp.route("/items/<int:item_id>/publish", methods=["POST"])
@roles_required(MERCH)
def publish(item_id: int):
    form = PublishForm()
    if form.validate_on_submit():
        try:
            coupons.require_spec(item_id, form.publish.data)
            item = management.set_published(item_id, form.publish.data, actor_id=current_user.id, now=now())
        except NotFound:
            abort(404)
        except DomainError as error:
            flash(str(error.message), "error")
            return redirect(url_for("console.edit_item", item_id=item_id))
        flash(_("Published: members can see it.") if item.published else _("Unpublished: hidden from members."),
              "success")
    return redirect(url_for("console.edit_item", item_id=item_id))


@bp.route("/items/<int:item_id>/substitutes", methods=["GET", "POST"])
@roles_required(MERCH)
def item_substitutes(item_id: int):
    item = db.session.get(Item, item_id) or abort(404)
    others = [i for i in db.session.scalars(db.select(Item).order_by(Item.sku)) if i.id != item_id]
    form = SubstitutesForm(items=others)
    warnings = []
    if request.method == "GET":
        links = management.substitutes(item_id)
        for field, link in zip((form.first, form.second, form.third), links):
            field.data = link.substitute_id
        warnings = substitutes.warnings_for(item, [db.session.get(Item, link.substitute_id) for link in links])
    if form.validate_on_submit():
        try:
            warnings = substitutes.set_substitutes(
                item_id, [form.first.data, form.second.data, form.third.data], actor_id=current_user.id, now=now())
        except DomainError as error:
            form.form_errors.append(str(error.message))
        else:
            flash(_("Substitutes saved."), "success")
    return render("console/substitutes.html", item=item, form=form, warnings=warnings,
                  status=422 if form.errors or form.form_errors else 200)


@bp.route("/items/<int:item_id>/history")
@roles_required(MERCH)
def history(item_id: int):
    item = db.session.get(Item, item_id) or abort(404)
    changes, page, pages = management.history(item_id, page=int_arg("page"))
    return render("console/history.html", item=item, changes=changes, page=page, pages=pages)


@bp.route("/items/<int:item_id>/stock", methods=["GET", "POST"])
@roles_required(MERCH)
def item_stock(item_id: int):
    item = db.session.get(Item, item_id) or abort(404)
    receive, adjust, threshold = ReceiveForm(prefix="receive"), AdjustForm(prefix="adjust"), ThresholdForm(prefix="low")
    status = 200
    action = request.form.get("action")
    try:
        if action == "receive" and receive.validate_on_submit():
            served = presale.receive_goods(item_id, receive.quantity.data, reference=receive.reference.data,
                                           reason="received", now=now(), actor_id=current_user.id)
            flash(_("Received %(n)s units.", n=receive.quantity.data), "success")
            if served:
                flash(_("Pre-orders: %(served)s served, %(offered)s offered a substitute, %(refunded)s refunded.",
                        **served), "info")
            return redirect(url_for("console.item_stock", item_id=item_id))
        if action == "adjust" and adjust.validate_on_submit():
            stock.adjust_stock(item_id, adjust.change.data, reason=adjust.reason.data, now=now(), actor_id=current_user.id)
            flash(_("Stock adjusted."), "success")
            return redirect(url_for("console.item_stock", item_id=item_id))
        if action == "threshold" and threshold.validate_on_submit():
            management.set_low_stock_threshold(item_id, threshold.threshold.data, now=now(), actor_id=current_user.id)
            flash(_("Low-stock warning saved."), "success")
            return redirect(url_for("console.item_stock", item_id=item_id))
    except DomainError as error:
        form = {"receive": receive, "adjust": adjust, "threshold": threshold}[action]
        refuse(form, error)
    if request.method == "POST":
        status = 422
    level = stock.level_for(item_id)
    if request.method == "GET" and level is not None:
        threshold.threshold.data = level.low_stock_threshold
    rows, page, pages = stock.movements(item_id, page=int_arg("page"))
    return render("console/stock.html", item=item, level=level, receive=receive, adjust=adjust,
                  threshold=threshold, movements=rows, page=page, pages=pages, status=status)


@bp.route("/export.csv")
@roles_required(MERCH)
def export_csv():
    from flask import Response
    return Response(csv_io.export_items(), mimetype="text/csv",
                    headers={"Content-Disposition": 'attachment; filename="items.csv"'})


@bp.route("/import", methods=["GET", "POST"])
@roles_required(MERCH)
def import_csv():
    form, problems, result = ImportForm(), [], None
    if form.validate_on_submit():
        upload = form.file.data
        try:
            text = csv_io.read_upload(upload, current_app.config["MALL_CSV_MAX_BYTES"])
        except csv_io.FileRefused as refused:
            form.file.errors.append(str(refused.message))
        else:
            try:
                result = csv_io.import_items(text, actor_id=current_user.id, now=now(),
                                             reference=csv_io.reference_for(upload.filename))
            except csv_io.ImportRefused as refused:
                problems = refused.problems
                form.form_errors.append(str(refused.message))
            except csv_io.FileRefused as refused:  # the csv module could not read it
                form.file.errors.append(str(refused.message))
    status = 422 if form.errors or form.form_errors else 200
    return render("console/import.html", form=form, problems=problems, result=result, status=status)


@bp.route("/items/<int:item_id>/image", methods=["POST"])
@roles_required(MERCH)
def item_image(item_id: int):
    from flask import current_app
    from pathlib import Path
    form = ImageForm()
    if form.validate_on_submit():
        try:
            name = store_image(form.image.data.read(), Path(current_app.config["MALL_UPLOAD_DIR"]))
            management.set_image(item_id, name, actor_id=current_user.id, now=now())
        except NotFound:
            abort(404)
        except DomainError as error:
            flash(str(error.message), "error")
        else:
            flash(_("Image saved."), "success")
    else:
        flash(form.image.errors[0] if form.image.errors else _("Choose an image."), "error")
    return redirect(url_for("console.edit_item", item_id=item_id))


@bp.route("/categories", methods=["GET", "POST"])
@roles_required(MERCH)
def category_list():
    form = CategoryForm()
    if form.validate_on_submit():
        try:
            management.create_category(form.slug.data, form.name.data, form.name_zh.data)
        except DomainError as error:
            refuse(form, error)
        else:
            flash(_("Category added."), "success")
            return redirect(url_for("console.category_list"))
    return render("console/categories.html", form=form, categories=categories(),
                  status=422 if form.errors or form.form_errors else 200)


@bp.route("/categories/<int:category_id>", methods=["GET", "POST"])
@roles_required(MERCH)
def edit_category(category_id: int):
    category = db.session.get(Category, category_id) or abort(404)
    form = CategoryForm(obj=category)
    if form.validate_on_submit():
        try:
            management.update_category(category_id, form.slug.data, form.name.data, form.name_zh.data)
        except DomainError as error:
            refuse(form, error)
        else:
            flash(_("Category saved."), "success")
            return redirect(url_for("console.category_list"))
    return render("console/category_form.html", form=form, category=category,
                  status=422 if form.errors or form.form_errors else 200)


# --- the merchant's purchase categories (receipt lines outside the catalogue) -------------

def _purchase_categories_page(form, status=200, error=None):
    listing = purchase_categories.list_purchase_categories(int_arg("page"))
    return render("console/purchase_categories.html", status=status, form=form, rows=listing.items,
                  page=listing.page, pages=listing.pages, total=listing.total, error=error,
                  delete_form=DeleteForm())


@bp.route("/purchase-categories", methods=["GET", "POST"])
@roles_required(MERCH)
def purchase_category_list():
    form = PurchaseCategoryForm()
    if form.validate_on_submit():
        try:
            row = purchase_categories.create_purchase_category(form.slug.data, form.name.data,
                                                               name_zh=form.name_zh.data, excluded=form.excluded.data)
        except DomainError as error:
            refuse(form, error)
        else:
            flash(_("Purchase category %(slug)s added.", slug=row.slug), "success")
            return redirect(url_for("console.purchase_category_list"))
    return _purchase_categories_page(form, status=422 if form.errors or form.form_errors else 200)


@bp.route("/purchase-categories/<int:category_id>", methods=["GET", "POST"])
@roles_required(MERCH)
def edit_purchase_category(category_id: int):
    try:
        row = purchase_categories.purchase_category(category_id)
    except NotFound:
        abort(404)
    form = PurchaseCategoryEditForm(obj=row)
    if form.validate_on_submit():
        try:
            purchase_categories.update_purchase_category(category_id, form.name.data, name_zh=form.name_zh.data,
                                                         excluded=form.excluded.data)
        except DomainError as error:
            refuse(form, error)
        else:
            flash(_("Purchase category %(slug)s saved.", slug=row.slug), "success")
            return redirect(url_for("console.purchase_category_list"))
    return render("console/purchase_category_form.html", form=form, category=row, delete_form=DeleteForm(),
                  status=422 if form.errors or form.form_errors else 200)


@bp.route("/purchase-categories/<int:category_id>/delete", methods=["POST"])
@roles_required(MERCH)
def delete_purchase_category(category_id: int):
    if not DeleteForm().validate():
        abort(400)
    try:
        row = purchase_categories.delete_purchase_category(category_id)
    except NotFound:
        abort(404)
    except DomainError as error:  # lines use it: nothing was deleted
        return _purchase_categories_page(PurchaseCategoryForm(formdata=None), status=409, error=str(error.message))
    flash(_("Purchase category %(slug)s deleted.", slug=row.slug), "success")
    return redirect(url_for("console.purchase_category_list"))
