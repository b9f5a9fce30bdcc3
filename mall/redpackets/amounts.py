"""How a red-packet campaign's total is cut into packets (docs/redpackets.md).

The number of packets is fixed when the campaign is created: given, or total ÷ the mean of
[min, max], rounded so that every packet can be paid inside the range
(count × min <= total <= count × max). Each claim then draws its amount from what is left:

    left == 1:  the packet is exactly the remainder;
    otherwise:  uniform in [lo, hi] with
        lo = max(min, remaining − max × (left − 1))      the others can still be paid <= max
        hi = min(max, remaining − min × (left − 1),      the others can still be paid >= min
                 2 × remaining ÷ left)                    "double mean" (WeChat's rule)

Invariant kept by every draw: left × min <= remaining <= left × max. So no draw can
exceed the budget, the last packet is never starved (it gets the remainder, which is at
least min), and the sum of all packets is exactly the total. The double-mean cap keeps early
claims from taking the lion's share: each draw's expected value is close to the mean left.
Randomness comes from `secrets` (the OS CSPRNG): amounts cannot be predicted from earlier
ones.
"""
import secrets
from dataclasses import dataclass


class Unpayable(ValueError):
    """The total can't be cut into packets inside the range."""


@dataclass(frozen=True)
class Plan:
    total_minor: int
    count: int
    min_minor: int
    max_minor: int


def plan(total_minor: int, min_minor: int, max_minor: int, count: int | None = None) -> Plan:
    """The campaign's packets: `count` given, or total ÷ mean of the range (rounded to the
    nearest count that fits). Raises Unpayable when no count fits."""
    if total_minor <= 0 or min_minor <= 0 or max_minor < min_minor:
        raise Unpayable()
    if count is None:
        count = max(1, round(total_minor * 2 / (min_minor + max_minor)))
        if count * min_minor > total_minor:
            count = total_minor // min_minor
        elif count * max_minor < total_minor:
            count = -(-total_minor // max_minor)
    if count <= 0 or not count * min_minor <= total_minor <= count * max_minor:
        raise Unpayable()
    return Plan(total_minor, count, min_minor, max_minor)


def draw_bounds(remaining: int, left: int, min_minor: int, max_minor: int) -> tuple[int, int]:
    """The range the next packet is drawn from (lo == hi for the last packet)."""
    if left <= 0 or not left * min_minor <= remaining <= left * max_minor:
        raise Unpayable()
    if left == 1:
        return remaining, remaining
    lo = max(min_minor, remaining - max_minor * (left - 1))
    hi = min(max_minor, remaining - min_minor * (left - 1), 2 * remaining // left)
    return lo, hi


def draw(remaining: int, left: int, min_minor: int, max_minor: int, *, randbelow=secrets.randbelow) -> int:
    """The next packet's amount, uniform in draw_bounds. `randbelow(n)` returns 0..n-1
    (tests pass a seeded one)."""
    lo, hi = draw_bounds(remaining, left, min_minor, max_minor)
    return lo + randbelow(hi - lo + 1)
