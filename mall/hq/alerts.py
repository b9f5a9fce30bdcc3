"""Budget alerts by email: sent after the transaction that raised them has committed.

An alert row is written with the charge that crossed 80% (or 100%) of a store's budget or of
a programme budget (per campaign or task kind); the email, naming the one, goes out afterwards, from the view that committed it or from `mall jobs`, so a rolled-
back grant never sends a warning. Each alert is claimed (emailed_at set and committed)
before sending, so two workers never send it twice; a failed send un-claims it for the next
run. HQ users are told in their own language; the store at its alert address, in Chinese
(a programme budget's alert goes to HQ alone).
"""
import logging
from datetime import datetime

from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from ..accounts.models import Role, User
from ..budgets.models import ProgrammeBudget, StoreBudget
from ..extensions import db
from ..instore.models import Store
from ..notifications.mail import build_message
from ..unit_of_work import commit
from .models import HqAlert
from .names import Names, hq_names

log = logging.getLogger(__name__)


def record_alert(sender, *, kind: str, store_id: int | None, month: str, facts: dict, now: datetime,
                 programme_budget_id: int | None = None) -> None:
    """Receiver of budget-threshold-crossed: one alert per kind, budget (a store's or a
    programme budget) and month; a second writer finds it there. Emailed after commit by
    `send_due_alerts`."""
    try:
        with db.session.begin_nested():
            db.session.add(HqAlert(kind=kind, store_id=store_id, programme_budget_id=programme_budget_id,
                                   month=month, facts=facts, created_at=now))
            db.session.flush()
    except IntegrityError:
        pass


def _text(alert: HqAlert, store: Store | None, programme: ProgrammeBudget | None, names: Names) -> tuple[str, str]:
    """The email in the current locale; the budget and the store named in it too (names.py)."""
    facts = alert.facts or {}
    pct = facts.get("used", 0) * 100 // max(facts.get("limit", 1), 1)
    if store is None:  # a programme budget (per campaign or task kind): named as HQ's pages name it
        name = names.budget(programme) if programme is not None else facts.get("budget", "-")
        if alert.kind == "budget_80":
            subject = _("Budget warning: the programme budget %(budget)s has used %(pct)s%% of its points",
                        budget=name, pct=pct)
        else:
            subject = _("Budget used up: the programme budget %(budget)s has no points left this month",
                        budget=name)
        body = _("Programme budget: %(budget)s\nMonth: %(month)s\nUsed: %(used)s of %(limit)s points\n\n"
                 "Open the HQ budgets page to review the programme budget and any grants waiting for approval.",
                 budget=name, month=alert.month, used=facts.get("used", "-"), limit=facts.get("limit", "-"))
        return subject, body
    store_name = names.store(store)
    if alert.kind == "budget_80":
        subject = _("Budget warning: %(store)s has used %(pct)s%% of its points budget", store=store_name, pct=pct)
    else:
        subject = _("Budget used up: %(store)s has no discretionary points left this month", store=store_name)
    body = _("Store: %(store)s\nMonth: %(month)s\nUsed: %(used)s of %(limit)s points\n\n"
             "Open the HQ dashboard to review the store's budget and any grants waiting for approval.",
             store=store_name, month=alert.month, used=facts.get("used", "-"), limit=facts.get("limit", "-"))
    return subject, body


def _recipients(alert: HqAlert) -> list[tuple[str, str]]:
    hq = db.session.execute(select(User.email, User.locale).where(User.role == Role.HQ.value,
                                                                  User.email.is_not(None),
                                                                  User.frozen_at.is_(None))).all()
    out = [(email, locale or "en") for email, locale in hq]
    budget = db.session.get(StoreBudget, alert.store_id) if alert.store_id is not None else None
    if budget is not None and budget.alert_email:
        out.append((budget.alert_email, "zh_Hans"))
    return out


def send_due_alerts(now: datetime, mailer, *, batch: int = 50) -> int:
    ids = db.session.scalars(select(HqAlert.id).where(HqAlert.emailed_at.is_(None)).order_by(HqAlert.id)
                             .limit(batch)).all()
    commit()  # batch: each alert is claimed and sent alone, so one SMTP failure blocks no other
    sent = 0
    names_in: dict[bool, Names] = {}  # read once per language for the whole batch
    for alert_id in ids:
        claimed = db.session.execute(update(HqAlert).where(HqAlert.id == alert_id, HqAlert.emailed_at.is_(None))
                                     .values(emailed_at=now).execution_options(synchronize_session=False)).rowcount
        commit()
        if not claimed:
            continue
        alert = db.session.get(HqAlert, alert_id)
        store = db.session.get(Store, alert.store_id) if alert.store_id is not None else None
        programme = db.session.get(ProgrammeBudget, alert.programme_budget_id) \
            if alert.programme_budget_id is not None else None
        try:
            for address, locale in _recipients(alert):
                chinese = str(locale).startswith("zh")
                if chinese not in names_in:
                    names_in[chinese] = hq_names(chinese=chinese)
                with force_locale(locale):
                    subject, body = _text(alert, store, programme, names_in[chinese])
                mailer.send(build_message(address, subject, body, message_id_key=f"hq-alert-{alert.id}-{address}"))
        except Exception:  # SMTP down: leave it for the next run
            log.exception("budget alert %s not sent", alert_id)
            db.session.execute(update(HqAlert).where(HqAlert.id == alert_id).values(emailed_at=None))
            commit()
            continue
        sent += 1
    return sent
