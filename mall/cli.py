"""`flask --app wsgi mall ...`: demo data, the invariant audit, background jobs, account freezes."""
import sys

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
    """Run every due background job once (cron calls this every minute where no Celery
    worker runs). The same functions are the Celery tasks (mall/worker.py); each is its own
    unit of work, so one job's failure leaves the others' work."""
    from .worker import run_all
    for line in run_all(now()):
        click.echo(line)


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


games_cli = AppGroup("games", help="Games: verify a closed game's draws.")
mall_cli.add_command(games_cli)


@games_cli.command("verify")
@click.argument("game_id", type=int)
def games_verify_command(game_id):
    """Recompute every draw of a closed game from its revealed seed; exit 1 on any mismatch."""
    from .errors import NotFound
    from .games.verify import NotRevealed, verify_game
    try:
        result = verify_game(game_id)
    except NotFound:
        click.echo(f"no game {game_id}", err=True)
        sys.exit(2)
    except NotRevealed:
        click.echo(f"game {game_id} is not closed: its seed is still secret", err=True)
        sys.exit(2)
    for mismatch in result.mismatches:
        click.echo(f"MISMATCH play {mismatch.play_id}: {mismatch.what}")
    if result.mismatches:
        click.echo(f"game {game_id}: {len(result.mismatches)} mismatches in {result.plays} plays", err=True)
        sys.exit(1)
    click.echo(f"game {game_id}: all {result.plays} draws verified")
