"""Games: members play and see their draws, anyone reads a game's rules and odds, the
merchandiser sets games up (console), HQ reads each game's report."""
from flask import Blueprint, abort, flash, redirect, url_for
from flask_babel import gettext as _
from flask_login import current_user

from .. import shoptime
from ..accounts.models import Role
from ..catalog.models import Item
from ..clock import now
from ..errors import DomainError, NotFound
from ..extensions import db
from ..points.tiers import all_tiers
from ..settings import current as current_settings
from ..templating import localized
from ..wallet.issue import active_specs
from ..web import int_arg, local_to_utc, redirect_to, refuse, render, roles_required
from . import management, play as playing, reports
from .forms import ConfirmForm, GameForm, PlayForm, PrizeForm
from .models import GameStatus

bp = Blueprint("games", __name__)
MERCH = Role.MERCHANDISER


def _published_or_404(game_id: int):
    try:
        game = management.get_game(game_id)
    except NotFound:
        abort(404)
    if game.status == GameStatus.DRAFT.value:
        abort(404)
    return game


def _today():
    return shoptime.local_day(now(), current_settings().timezone)


@bp.route("/games")
@roles_required(Role.MEMBER)
def index():
    games = management.all_games(statuses=(GameStatus.OPEN.value,))
    return render("games/index.html", games=[g for g in games if playing.is_open(g, now())])


@bp.route("/games/<int:game_id>")
@roles_required(Role.MEMBER)
def game(game_id: int):
    _published_or_404(game_id)
    page = reports.game_page(game_id, current_user.id, now(), _today())
    return render("games/game.html", page=page, form=PlayForm())


@bp.route("/games/<int:game_id>/play", methods=["POST"])
@roles_required(Role.MEMBER)
def play(game_id: int):
    _published_or_404(game_id)
    form = PlayForm()
    if not form.validate():
        flash(form.key_refusal() or _("This page is out of date: reload it and try again."), "error")
        return redirect_to(url_for("games.game", game_id=game_id))
    try:
        outcome = playing.play(game_id, current_user.id, key=form.key.data, now=now(),
                               timezone=current_settings().timezone)
    except DomainError as error:
        flash(str(error.message), "error")
        return redirect_to(url_for("games.game", game_id=game_id))
    return render("games/result.html", "games/_result.html", play=outcome.play, replay=outcome.replay)


@bp.route("/games/<int:game_id>/rules")
def rules(game_id: int):
    game = _published_or_404(game_id)
    return render("games/rules.html", game=game, odds=reports.prize_odds(game))


@bp.route("/games/plays")
@roles_required(Role.MEMBER)
def plays():
    rows, page, pages = reports.member_plays(current_user.id, int_arg("page"))
    return render("games/plays.html", plays=rows, page=page, pages=pages)


# --- console: the merchandiser's games -------------------------------------------------------

def _game_form():
    form = GameForm()
    form.tiers.choices = [(t.code, localized(t, "name")) for t in all_tiers()]
    return form


@bp.route("/console/games", methods=["GET", "POST"])
@roles_required(MERCH)
def console_games():
    form = _game_form()
    if form.validate_on_submit():
        data = management.GameData(
            name=form.name.data, name_zh=form.name_zh.data, kind=form.kind.data,
            starts_at=local_to_utc(form.starts_at.data), ends_at=local_to_utc(form.ends_at.data),
            cost_kind=form.cost_kind.data, cost_points=form.cost_points.data or 0,
            draw_task=form.draw_task.data or None, streak_days=form.streak_days.data,
            daily_limit=form.daily_limit.data, total_limit=form.total_limit.data, tiers=form.tiers.data or [],
            segments=form.segments.data or [], pity_after=form.pity_after.data, budget_points=form.budget_points.data)
        try:
            created = management.create_game(data, actor_id=current_user.id, now=now())
        except DomainError as error:
            refuse(form, error)
        else:
            flash(_("Game created as a draft. Add its prizes, then open it."), "success")
            return redirect_to(url_for("games.console_game", game_id=created.id))
    return render("games/console_games.html", form=form, games=management.all_games())


def _prize_form():
    form = PrizeForm()
    items = db.session.query(Item.id, Item.sku, Item.name).order_by(Item.sku).limit(500).all()
    form.item_id.choices = [(0, "—")] + [(i.id, f"{i.sku} · {i.name}") for i in items]
    form.coupon_spec_id.choices = [(0, "—")] + [(s.id, s.name) for s in active_specs()]
    return form


@bp.route("/console/games/<int:game_id>", methods=["GET", "POST"])
@roles_required(MERCH)
def console_game(game_id: int):
    try:
        game = management.get_game(game_id)
    except NotFound:
        abort(404)
    form = _prize_form()
    if form.validate_on_submit():
        data = management.PrizeData(kind=form.kind.data, label=form.label.data, label_zh=form.label_zh.data,
                                    points=form.points.data, item_id=form.item_id.data or None,
                                    coupon_spec_id=form.coupon_spec_id.data or None,
                                    packet_minor=int(form.packet_value.data * 100) if form.packet_value.data else None,
                                    cost_points=form.cost_points.data or 0, weight=form.weight.data,
                                    stock=form.stock.data)
        try:
            management.add_prize(game.id, data, actor_id=current_user.id, now=now())
        except DomainError as error:
            refuse(form, error)
        else:
            flash(_("Prize added."), "success")
            return redirect_to(url_for("games.console_game", game_id=game.id))
    return render("games/console_game.html", game=game, form=form, confirm=ConfirmForm(),
                  odds=reports.prize_odds(game))


def _console_action(game_id: int, action, done: str):
    if not ConfirmForm().validate():
        abort(400)
    try:
        action()
    except NotFound:
        abort(404)
    except DomainError as error:
        flash(str(error.message), "error")
    else:
        flash(done, "success")
    return redirect(url_for("games.console_game", game_id=game_id))


@bp.route("/console/games/<int:game_id>/open", methods=["POST"])
@roles_required(MERCH)
def open_game(game_id: int):
    return _console_action(game_id, lambda: management.open_game(game_id, actor_id=current_user.id, now=now()),
                           _("The game is open: its odds and the commitment to its seed are published."))


@bp.route("/console/games/<int:game_id>/close", methods=["POST"])
@roles_required(MERCH)
def close_game(game_id: int):
    return _console_action(game_id, lambda: management.close_game(game_id, actor_id=current_user.id, now=now()),
                           _("The game is closed and its seed revealed: anyone can now check every draw."))


@bp.route("/console/games/<int:game_id>/prizes/<int:prize_id>/remove", methods=["POST"])
@roles_required(MERCH)
def remove_prize(game_id: int, prize_id: int):
    return _console_action(game_id, lambda: management.remove_prize(game_id, prize_id, actor_id=current_user.id,
                                                                    now=now()), _("Prize removed."))


# --- HQ: per-game reports ----------------------------------------------------------------------

@bp.route("/hq/games")
@roles_required(Role.HQ)
def hq_games():
    return render("games/hq_games.html", games=management.all_games())


@bp.route("/hq/games/<int:game_id>")
@roles_required(Role.HQ)
def hq_report(game_id: int):
    try:
        result = reports.report(game_id, now())
    except NotFound:
        abort(404)
    return render("games/report.html", report=result)
