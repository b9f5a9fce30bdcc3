"""`flask --app wsgi mall ...`: demo data, the invariant audit, background jobs, account freezes."""
import sys
from datetime import timedelta

import click
from flask.cli import AppGroup

from .clock import now
from .unit_of_work import unit

mall_cli = AppGroup("mall", help="Point Mall operations.")


@mall_cli.command("demo")
def demo_command():
    """Load idempotent demo data: tiers, two stores, 32 items, members at every tier, receipts with lines."""
    from .demo import DEMO_PASSWORD, load_demo
    with unit():
        logins = load_demo(now())
    click.echo("Demo data ready. Logins (password for all: %s):" % DEMO_PASSWORD)
    for role, login, note in logins:
        click.echo(f"  {role:<13} {login:<24} {note}")
    from .redpackets.demo import SHARE_PATH
    click.echo(f"Red-packet share link (log in as a member to open it): {SHARE_PATH}")


@mall_cli.command("audit")
def audit_command():
    """Check the points and stock invariants; exit 1 on any violation."""
    from .audit import run_audit
    failed = 0
    for finding in run_audit():
        mark = "ok  " if not finding.violations else "FAIL"
        click.echo(f"[{mark}] {finding.check}")
        for row in finding.violations:
            click.echo(f"         {row}")
        failed += bool(finding.violations)
    click.echo(f"{failed} of the checks failed." if failed else "All checks passed.")
    sys.exit(1 if failed else 0)


@mall_cli.command("jobs")
def jobs_command():
    """Run every due background job once (a scheduler or cron calls this every minute).
    Each step is its own unit of work, so one step's failure leaves the others' work."""
    from flask import current_app

    from .checkout import jobs
    from .checkout.gateway import gateway_for
    from .instore.clawbacks import settle_due_clawbacks
    from .notifications.delivery import deliver_pending
    from .notifications.mail import mailer_for
    from .notifications.reminders import send_coupon_reminders, send_expiry_reminders
    from .wallet.jobs import expire_due as expire_wallet_items
    from .points.ledger import expire_due_points, release_due_pending
    from .points.tiers import review_tiers
    from .presale import services as presale
    at, gateway, mailer = now(), gateway_for(current_app.config), mailer_for(current_app.config)
    with unit():
        held = jobs.expire_holds(at, gateway, hold_minutes=current_app.config["MALL_HOLD_MINUTES"])
    click.echo(f"reservations: {held} expired holds released")
    for presale_id in presale.due_presales(at):
        with unit():
            outcome = presale.allocate(presale_id, at)
        click.echo(f"presale {presale_id}: {outcome['served']} served, {outcome['offered']} offered a substitute, "
                   f"{outcome['refunded']} refunded (no substitute)")
    with unit():
        click.echo(f"presale offers: {presale.expire_offers(at)} expired and refunded")
    with unit():
        click.echo(f"refunds: {jobs.retry_refunds(gateway, at)} sent")
    with unit():
        click.echo(f"points expiry: {expire_due_points(at)} lot remainders expired")
    with unit():
        click.echo(f"pending points: {release_due_pending(at)} purchases' points released after the return window")
    with unit():
        click.echo(f"clawbacks: {settle_due_clawbacks(at)} points settled from refunded purchases")
    with unit():
        tiers = review_tiers(at)
    click.echo(f"tiers: {tiers['upgrade']} upgraded, {tiers['renewal']} renewed, {tiers['downgrade']} downgraded")
    with unit():
        click.echo(f"expiry reminders: {send_expiry_reminders(at)} new")
    with unit():
        click.echo(f"coupon reminders: {send_coupon_reminders(at)} new")
    with unit():
        click.echo(f"wallet: {expire_wallet_items(at)} coupons and red packets expired")
    with unit():
        click.echo(f"emails: {deliver_pending(at, mailer)} sent")
    click.echo(f"admission: {jobs.resync_admission(current_app.extensions['mall.admission'])} counters resynced")
    _hq_jobs(at, mailer)


def _hq_jobs(at, mailer):
    """HQ (issue 7): roll closed days up for the dashboard, refresh segments and ROI once a
    day, and email budget alerts that are due."""
    from .hq import analytics, segments
    from .hq.alerts import send_due_alerts
    with unit():
        analytics.roll_up(at)
    computed = segments.segments_computed_at()
    if computed is None or at - computed > timedelta(hours=20):
        with unit():
            segments.refresh_all(at)
        click.echo("segments and ROI: recomputed")
    with unit():
        click.echo(f"budget alerts: {send_due_alerts(at, mailer)} emailed")


@mall_cli.command("freeze")
@click.argument("login")
@click.option("--reason", required=True, help="Shown to the member when they try to log in.")
def freeze_command(login, reason):
    """Freeze an account by email or mobile number."""
    from .accounts.services import find_by_identifier
    from .risk.services import freeze_member
    user = find_by_identifier(login)
    if user is None:
        raise click.ClickException(f"no account for {login}")
    with unit():
        freeze_member(user.id, reason, actor_id=None, now=now())  # audited, like HQ's freeze
    click.echo(f"frozen: {login}")


@mall_cli.command("unfreeze")
@click.argument("login")
@click.option("--reason", default="unfrozen from the command line", help="Kept in the audit log.")
def unfreeze_command(login, reason):
    from .accounts.services import find_by_identifier
    from .risk.services import unfreeze_member
    user = find_by_identifier(login)
    if user is None:
        raise click.ClickException(f"no account for {login}")
    with unit():
        unfreeze_member(user.id, reason, actor_id=None, now=now())
    click.echo(f"unfrozen: {login}")
