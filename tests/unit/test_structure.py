"""The shape of the code (CONVENTIONS.md #10, #16): domains import downwards only, with no
import hidden inside a function to dodge a loop, and lower domains tell higher ones about
their moments through the events in mall/events.py."""
import ast
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from mall import events
from mall.budgets import services as budgets
from mall.engagement import receivers as engagement_receivers
from mall.engagement.earning import earn_for_purchase
from mall.extensions import db
from mall.hq.models import HqAlert
from mall.instore.models import Store
from mall.instore.purchases import earn_for_member
from mall.notifications import receivers as notification_receivers
from mall.notifications.models import Notification
from tests.factories import make_user

MALL = Path(__file__).resolve().parents[2] / "mall"
MAY_IMPORT_INSIDE_FUNCTIONS = {"mall/cli.py", "mall/demo.py", "mall/engagement/demo.py", "mall/__init__.py"}
WEB_LAYER = {"views", "forms"}  # on top of every domain: may import any domain's services
MAY_IMPORT_DOMAINS = {"mall", "mall.models", "mall.cli", "mall.demo", "mall.worker"}  # create_app, the model registry, CLI, jobs


def _modules() -> dict[str, tuple[Path, ast.Module]]:
    found = {}
    for path in sorted(MALL.rglob("*.py")):
        parts = list(path.relative_to(MALL.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = (path, ast.parse(path.read_text(), str(path)))
    return found


MODULES = _modules()


def _imported(module: str, node: ast.AST) -> list[str]:
    """The mall modules an import statement names (a package's submodule where it is one)."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names if a.name.split(".")[0] == "mall"]
    base = module.split(".")
    if node.level:
        is_package = MODULES[module][0].name == "__init__.py"
        base = base if is_package else base[:-1]
        base = base[:len(base) - node.level + 1]
        target = ".".join(base + ([node.module] if node.module else []))
    else:
        target = node.module or ""
    if target.split(".")[0] != "mall":
        return []
    return [f"{target}.{a.name}" if f"{target}.{a.name}" in MODULES else target for a in node.names]


def _function_imports(module: str, tree: ast.Module):
    for function in ast.walk(tree):
        if isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for node in ast.walk(function):
                if isinstance(node, (ast.Import, ast.ImportFrom)) and _imported(module, node):
                    yield node.lineno, _imported(module, node)


def _module_imports(module: str, tree: ast.Module) -> set[str]:
    """Imports run when the module loads: everything outside function bodies."""
    found, stack = set(), list(tree.body)
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            found.update(m for m in _imported(module, node) if m in MODULES)
        stack.extend(ast.iter_child_nodes(node))
    return found


def _domain(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 2 else None  # mall.<domain>.<module>


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state, path = {}, []

    def visit(node):
        state[node] = "open"
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        state[node] = "done"
        path.pop()

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_no_module_imports_another_mall_module_inside_a_function():
    hidden = [f"{MODULES[m][0].relative_to(MALL.parent)}:{line} imports {', '.join(names)}"
              for m, (path, tree) in MODULES.items()
              if str(path.relative_to(MALL.parent)) not in MAY_IMPORT_INSIDE_FUNCTIONS
              for line, names in _function_imports(m, tree)]
    assert hidden == []


def test_modules_import_each_other_without_a_loop():
    graph = {m: _module_imports(m, tree) for m, (_, tree) in MODULES.items()}
    assert _cycle(graph) is None


def test_domain_folders_below_the_web_layer_import_each_other_without_a_loop():
    graph, why = {}, {}
    for module, (_, tree) in MODULES.items():
        domain = _domain(module)
        if domain is None or module.split(".")[-1] in WEB_LAYER:
            continue
        for target in _module_imports(module, tree):
            other = _domain(target)
            if other is not None and other != domain:
                graph.setdefault(domain, set()).add(other)
                why.setdefault((domain, other), f"{module} -> {target}")
    loop = _cycle(graph)
    assert loop is None, [why[pair] for pair in zip(loop, loop[1:])]


def test_shared_infrastructure_imports_no_domain():
    upward = [f"{module} -> {target}" for module, (_, tree) in MODULES.items()
              if _domain(module) is None and module not in MAY_IMPORT_DOMAINS
              for target in _module_imports(module, tree) if _domain(target) is not None]
    assert upward == []


def test_every_event_says_who_sends_it_and_what_it_carries():
    signals = [s for s in vars(events).values() if hasattr(s, "send") and hasattr(s, "receivers")]
    assert len(signals) >= 8
    assert all("Sent by" in (s.__doc__ or "") for s in signals)


# --- events: who reacts ----------------------------------------------------------------

@pytest.fixture
def store(app):
    store = Store(code="S7", name="Store 7", region="Jing'an")
    db.session.add(store)
    db.session.flush()
    return store


@pytest.fixture
def without(app):
    """Disconnect a receiver for one test (create_app connects it again for the next)."""
    taken = []

    def disconnect(signal, receiver):
        signal.disconnect(receiver)
        taken.append((signal, receiver))
    yield disconnect
    for signal, receiver in taken:
        signal.connect(receiver)


def test_a_pos_purchase_earns_through_the_engagement_receiver(tiers, clock, store, without):
    member = make_user(clock.now())
    purchase, _ = earn_for_member(store.id, "R-1", 20_000, member.id, now=clock.now(), code_hours=24,
                                  minor_per_point=100)
    assert purchase.points > 0 and purchase.earn_entry_id is not None

    without(events.purchase_recorded, engagement_receivers.earn_for_recorded_purchase)
    unheard, _ = earn_for_member(store.id, "R-2", 20_000, member.id, now=clock.now(), code_hours=24,
                                 minor_per_point=100)
    assert unheard.points == 0 and unheard.earn_entry_id is None


def test_a_tier_change_tells_the_member_through_the_notification_receiver(tiers, clock, without):
    member = make_user(clock.now())
    earn_for_purchase(member.id, 500_000, minor_per_point=100, source="pos", key="big", now=clock.now())
    news = db.session.scalars(select(Notification).where(Notification.member_id == member.id,
                                                         Notification.kind == "tier_change")).all()
    assert [n.params["kind"] for n in news] == ["upgrade"]

    without(events.tier_changed, notification_receivers.tell_tier_change)
    other = make_user(clock.now(), login="other@example.com")
    earn_for_purchase(other.id, 500_000, minor_per_point=100, source="pos", key="big2", now=clock.now())
    assert db.session.scalars(select(Notification).where(Notification.member_id == other.id,
                                                         Notification.kind == "tier_change")).all() == []


def test_a_budget_crossing_its_threshold_alerts_hq(tiers, clock, store):
    hq = make_user(clock.now(), role="hq", login="boss@example.com")
    budgets.set_budget(store.id, 1_000, "hold", alert_email=None, actor_id=hq.id, now=clock.now())
    budgets.charge_discretionary(store.id, 700, "bonus", clock.now())
    assert db.session.scalars(select(HqAlert)).all() == []
    budgets.charge_discretionary(store.id, 100, "bonus", clock.now() + timedelta(minutes=1))
    budgets.charge_discretionary(store.id, 100, "bonus", clock.now() + timedelta(minutes=2))
    assert [(a.kind, a.store_id) for a in db.session.scalars(select(HqAlert))] == [("budget_80", store.id)]


def test_receivers_connected_twice_act_once(app, tiers, clock):
    engagement_receivers.connect()
    notification_receivers.connect()  # create_app ran already; a second app does the same
    member = make_user(clock.now())
    earn_for_purchase(member.id, 500_000, minor_per_point=100, source="pos", key="big", now=clock.now())
    assert db.session.query(Notification).filter_by(member_id=member.id, kind="tier_change").count() == 1
