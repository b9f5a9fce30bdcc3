"""Draw the install icons once (issue 17, item 4) from static/img/icon.svg's design: a red
rounded square, a gold ring and a gold "P". Pillow only (no SVG renderer needed); drawn at
4x and scaled down for smooth edges. The PNGs are committed; run again only if the design
changes:

    .venv/bin/python scripts/make_icons.py
"""
from pathlib import Path

from PIL import Image, ImageDraw

RED, GOLD = (180, 35, 44, 255), (255, 211, 107, 255)
OUT = Path(__file__).resolve().parent.parent / "static" / "img"


def draw(size: int, *, maskable: bool) -> Image.Image:
    big = size * 4
    image = Image.new("RGBA", (big, big), (0, 0, 0, 0))
    pen = ImageDraw.Draw(image)
    unit = big / 64  # the SVG's 64-unit grid
    if maskable:  # full bleed; the mark inside the 80% safe zone
        pen.rectangle((0, 0, big, big), fill=RED)
        unit *= 0.8
    else:
        pen.rounded_rectangle((0, 0, big - 1, big - 1), radius=14 * unit, fill=RED)
    c = big / 2

    def box(cx, cy, r):
        return (c + (cx - 32) * unit - r * unit, c + (cy - 32) * unit - r * unit,
                c + (cx - 32) * unit + r * unit, c + (cy - 32) * unit + r * unit)

    pen.ellipse(box(32, 32, 20.5), outline=GOLD, width=round(5 * unit))
    # The "P": a stem and a bowl, in the ring's middle.
    stem = (c - 6.5 * unit, c - 9 * unit, c - 2.5 * unit, c + 9 * unit)
    pen.rectangle(stem, fill=GOLD)
    pen.rounded_rectangle((c - 6.5 * unit, c - 9 * unit, c + 7 * unit, c + 2 * unit), radius=5.5 * unit, fill=GOLD)
    pen.rounded_rectangle((c - 2.5 * unit, c - 5.5 * unit, c + 3 * unit, c - 1.5 * unit), radius=2 * unit, fill=RED)
    # A 32-colour palette (two colours and their edges) keeps each file a few KB.
    return image.resize((size, size), Image.LANCZOS).quantize(32, method=Image.Quantize.FASTOCTREE)


if __name__ == "__main__":
    for size in (192, 512):
        draw(size, maskable=False).save(OUT / f"icon-{size}.png", optimize=True)
    draw(512, maskable=True).save(OUT / "icon-maskable-512.png", optimize=True)
    print("written:", *sorted(p.name for p in OUT.glob("icon*.png")))
