"""What the receipt tests share (the member's receipt page, HQ's appeal review): a
two-line purchase on a Wednesday morning in the shop's zone, and the page's main text."""
import re
from datetime import datetime, timezone
from html import unescape

from mall.instore.purchases import LineInput

EARN = dict(code_hours=24, minor_per_point=100)
# 2026-06-03 is a Wednesday: 02:05 UTC is 10:05 in Shanghai, the shop's zone.
WED_10 = datetime(2026, 6, 3, 2, 5, tzinfo=timezone.utc)
LINES = [LineInput(8_600, category="fresh", sku="VEG-001", name="Bok choy", quantity=2),
         LineInput(20_000, category="kitchen", sku="KIT-204", name="Wok")]


def main_text(response) -> str:
    """The page's <main> as a reader hears it: tags dropped, entities decoded, spaces collapsed."""
    html = response.get_data(as_text=True)
    main = html[html.index("<main"):html.index("</main>")]
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", main)))
