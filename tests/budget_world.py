"""A store with HQ and a member, for the budget and pending-points tests, and the audit
findings they assert are empty."""
import pytest

from mall.audit import run_audit
from mall.extensions import db
from mall.instore.models import Store
from tests.factories import make_user


def clean_audit():
    return [(f.check, f.violations) for f in run_audit() if f.violations]


@pytest.fixture
def shop(tiers, clock):
    store = Store(code="S7", name="Store 7", region="East")
    db.session.add(store)
    db.session.flush()
    hq = make_user(clock.now(), role="hq", login="hq@example.com")
    member = make_user(clock.now(), login="member@example.com", name="Lin Xiao")
    db.session.commit()
    return store, hq, member
