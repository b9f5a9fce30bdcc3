"""Fill empty entries in the catalogues: English from the source text, Chinese from a
dict file (python: a ZH mapping of msgid -> translation). Usage:
    python scripts/fill_translations.py path/to/zh_dict.py
Prints what is still missing."""
import runpy
import sys
from pathlib import Path

from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent / "mall" / "translations"


def fill(locale: str, lookup) -> list:
    path = ROOT / locale / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as f:
        catalog = read_po(f, locale=locale)
    missing = []
    for message in catalog:
        if not message.id or (message.string and all(message.string if isinstance(message.string, tuple) else [message.string])):
            continue
        value = lookup(message.id)
        if value is None:
            missing.append(message.id)
        else:
            message.string = value
            message.flags.discard("fuzzy")
    catalog.fuzzy = False
    with path.open("wb") as f:
        write_po(f, catalog, width=100)
    return missing


if __name__ == "__main__":
    zh = runpy.run_path(sys.argv[1]).get("ZH", {}) if len(sys.argv) > 1 else {}
    print("en missing:", fill("en", lambda mid: mid))
    print("zh_Hans missing:", fill("zh_Hans", lambda mid: zh.get(mid) if isinstance(mid, str) else None))
