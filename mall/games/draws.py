"""The draw: pure functions over the seed, the play's identity and the prize table, shared
by the play, the published odds and the verifier (docs/games.md states the same scheme).

- commitment = SHA-256(seed), published when the game opens; the seed when it closes.
- message    = f"{game_id}:{member_id}:{play_no}" (attempt 0), then f"...:{attempt}".
- digest     = HMAC-SHA256(seed, message), read as a 256-bit big-endian integer x.
- value      = x mod total, accepted only when x < LIMIT = 2^256 - (2^256 mod total):
               rejection sampling, so every value in [0, total) is exactly equally likely (no
               modulo bias). A rejection happens with probability total / 2^256 (< 2^-200 for
               any total weight below 2^56); the next attempt is then used.
- prize      = the prize whose cumulative weight interval [c_i, c_i + w_i) holds the value,
               prizes in position order (the order the odds page lists them).
- ladder     = prizes by cost descending, then position: a refused prize (stock, budget or
               the catalogue item's stock) falls to the next prize down the ladder, ending at
               a no-cost prize, which is never refused.
Pity: a play after `pity_after` plays in a row without a prize of value (cost > 0) draws
among the prizes of value only (the same mapping over their weights)."""
import hashlib
import hmac
import secrets
from dataclasses import dataclass

SPACE = 2 ** 256


@dataclass(frozen=True)
class PrizeSpec:
    id: int
    position: int
    weight: int
    cost_points: int

    @property
    def valuable(self) -> bool:
        return self.cost_points > 0


@dataclass(frozen=True)
class Draw:
    value: int
    total: int
    attempt: int
    digest: str


def new_seed() -> str:
    return secrets.token_hex(32)


def commitment(seed_hex: str) -> str:
    return hashlib.sha256(bytes.fromhex(seed_hex)).hexdigest()


def message(game_id: int, member_id: int, play_no: int, attempt: int = 0) -> bytes:
    text = f"{game_id}:{member_id}:{play_no}" + (f":{attempt}" if attempt else "")
    return text.encode()


def draw(seed_hex: str, game_id: int, member_id: int, play_no: int, total: int) -> Draw:
    """A value uniform on [0, total) from HMAC-SHA256 by rejection sampling."""
    if total <= 0:
        raise ValueError("a draw needs a positive total weight")
    limit = SPACE - SPACE % total
    key = bytes.fromhex(seed_hex)
    attempt = 0
    while True:
        digest = hmac.new(key, message(game_id, member_id, play_no, attempt), hashlib.sha256).digest()
        x = int.from_bytes(digest, "big")
        if x < limit:
            return Draw(value=x % total, total=total, attempt=attempt, digest=digest.hex())
        attempt += 1


def pool(prizes: list[PrizeSpec], pity: bool) -> list[PrizeSpec]:
    """The prizes a play draws among, in position order: all, or on a pity play those of value."""
    ordered = sorted(prizes, key=lambda p: p.position)
    if pity and any(p.valuable for p in ordered):
        return [p for p in ordered if p.valuable]
    return ordered


def pick(prizes: list[PrizeSpec], value: int) -> PrizeSpec:
    """The prize whose cumulative weight interval holds `value` (prizes in the pool's order)."""
    start = 0
    for prize in prizes:
        if value < start + prize.weight:
            return prize
        start += prize.weight
    raise ValueError("value beyond the total weight")


def ladder(prizes: list[PrizeSpec]) -> list[PrizeSpec]:
    return sorted(prizes, key=lambda p: (-p.cost_points, p.position))


def chain(prizes: list[PrizeSpec], drawn: PrizeSpec) -> list[PrizeSpec]:
    """The drawn prize, then every prize below it on the ladder: the order of fallbacks."""
    steps = ladder(prizes)
    index = next(i for i, p in enumerate(steps) if p.id == drawn.id)
    return steps[index:]


def is_pity(pity_after: int | None, earlier_valuable: list[bool]) -> bool:
    """Whether a play is a pity play, given whether each earlier play of the member (in play
    order) won a prize of value."""
    if not pity_after or len(earlier_valuable) < pity_after:
        return False
    return not any(earlier_valuable[-pity_after:])


def published_odds(prizes: list[PrizeSpec]) -> dict[int, tuple[int, int]]:
    """Each prize's chance to be drawn, as (weight, total): before fallbacks."""
    total = sum(p.weight for p in prizes)
    return {p.id: (p.weight, total) for p in prizes}
