"""The one rounding rule for parts of a whole (issue 12): points over receipt lines, a
line's points and amount over its units when some are refunded.

A part gets the rest of the whole × its weight ÷ the rest of the weights, rounded down; the
last part (the one that exhausts the weights) gets whatever is left. So the parts always add
up to the whole exactly, no part is rounded up, and refunding a line unit by unit gives back
exactly what refunding it at once would. Pure integer arithmetic.
"""


def portion(rest: int, part: int, rest_weight: int) -> int:
    """The share of `rest` for `part` of the remaining `rest_weight`."""
    if rest_weight <= 0 or part <= 0:
        return 0
    if part >= rest_weight:
        return rest
    return rest * part // rest_weight


def split(whole: int, weights: list[int]) -> list[int]:
    """`whole` over `weights`, in order, by the rule above. sum(result) == whole when the
    weights add up to more than zero."""
    out, rest, rest_weight = [], whole, sum(weights)
    for w in weights:
        part = portion(rest, w, rest_weight)
        out.append(part)
        rest, rest_weight = rest - part, rest_weight - w
    return out
