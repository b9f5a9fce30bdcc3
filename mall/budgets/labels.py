"""What a programme budget for a task is called where people read it, in their language.

A programme budget created on first use is stored under an English default name ("Task:
checkin", services.default_budget_name), and one set on HQ's form under the form's label in
the language of whoever set it. Neither is a name anybody chose: a reader sees the task's
label in their own language instead. A name HQ typed is shown as typed. (HQ's pages name
every kind of programme budget this way, with rules and games too: mall/hq/names.py.)
"""
from flask_babel import force_locale, lazy_gettext as _l

from .services import default_budget_name

TASK_LABELS = {"checkin": _l("Task: daily check-in"), "profile": _l("Task: profile"),
               "referral": _l("Task: referral")}


def task_budget_label(scope: str, target: str, name: str):
    """The label to show for a programme budget: its task's, in the reader's language (a
    lazy string), when `name` is one of its default names; else `name` itself."""
    if scope != "task" or target not in TASK_LABELS:
        return name
    defaults = {default_budget_name(scope, target)}
    for locale in ("en", "zh_Hans"):
        with force_locale(locale):
            defaults.add(str(TASK_LABELS[target])[:80])
    return TASK_LABELS[target] if name in defaults else name
