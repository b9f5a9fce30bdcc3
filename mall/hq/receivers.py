"""HQ's reactions to other domains' events (mall/events.py), connected by create_app."""
from ..events import budget_threshold_crossed
from .alerts import record_alert


def connect() -> None:
    """Idempotent: blinker connects a receiver once however often create_app runs."""
    budget_threshold_crossed.connect(record_alert)
