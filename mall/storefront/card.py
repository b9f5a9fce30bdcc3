"""The member card: the member's code as a QR and a Code 128 barcode for the till, with the
balance and tier the member wants to see while they are at it."""
import re
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from io import BytesIO

from barcode import Code128
from barcode.writer import SVGWriter

from ..accounts.models import User
from ..errors import NotFound
from ..extensions import db
from ..instore.codes import qr_svg
from ..points.statement import spendable
from ..points.tiers import TierStatus, tier_status


@dataclass(frozen=True)
class MemberCard:
    code: str
    name: str
    qr_svg: str
    barcode_svg: str
    points: int
    tier: TierStatus


@lru_cache(maxsize=512)
def barcode_svg(text: str) -> str:
    """An inline Code 128 SVG, scaled by CSS: bars only (the page prints the code itself in
    large type), black on white with the quiet zone scanners need."""
    out = BytesIO()
    Code128(text, writer=SVGWriter()).write(out, options={
        "write_text": False, "module_height": 18.0, "module_width": 0.4, "quiet_zone": 4.0,
        "background": "white", "foreground": "black", "compress": False})
    svg = out.getvalue().decode()
    svg = svg[svg.index("<svg"):]  # drop the XML declaration and doctype: it sits inside the page
    # A viewBox lets CSS scale it; the fixed mm width and height would not.
    width, height = (re.search(rf'{a}="([\d.]+)mm"', svg).group(1) for a in ("width", "height"))
    svg = re.sub(r'<svg[^>]*>', f'<svg class="barcode" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
                  f'preserveAspectRatio="none" aria-hidden="true" focusable="false">', svg, count=1) \
        .replace("mm", "")
    # Presentation attributes, not style="": the CSP allows no inline styles.
    svg = re.sub(r'style="fill:(\w+);?"', r'fill="\1"', svg)
    return re.sub(r'\s*<!--.*?-->|\s+id="[^"]*"', "", svg)


def member_card(member_id: int, now: datetime) -> MemberCard:
    member = db.session.get(User, member_id)
    if member is None:
        raise NotFound()
    return MemberCard(code=member.member_code, name=member.display_name, qr_svg=qr_svg(member.member_code),
                      barcode_svg=barcode_svg(member.member_code), points=spendable(member_id, now),
                      tier=tier_status(member_id, now))
