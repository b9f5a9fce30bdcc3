"""An order's timeline shows the system's notes in the reader's language (the services write
them in English, as facts): every note a service writes is known, the notes with a number or
a time in them read in Chinese too, and a person's own note is shown as written."""
import pathlib
import re
from contextlib import contextmanager

import pytest
from flask_babel import refresh

from mall.checkout.notes import FIXED, order_note
from mall.checkout.orders import record

ROOT = pathlib.Path(__file__).resolve().parents[2]
# record(order, kind, now, ..., note="...") and the helpers that pass a note on to it.
NOTE_CALL = re.compile(r"\b(?:record|_confirm|_release|settle_paid)\((?:[^()]|\([^()]*\))*?note=\"([^\"]+)\"", re.S)
LATIN_WORD = re.compile(r"[A-Za-z]{2,}")

SAMPLES = {  # a note as each service writes it -> what a Chinese and an English reader see
    "place 3 of 50, ships 2026-12-20": ("第 3 位（共 50 个名额），2026-12-20 发货", "place 3 of 50, ships 2026-12-20"),
    "choose a substitute or a full refund by 2026-12-21 18:00": ("请在 2026-12-21 18:00 前选择替代商品或全额退款",
                                                                 "choose a substitute or a full refund by 2026-12-21 18:00"),
    "Kettle → Teapot; points 900 → 1200": ("Kettle → Teapot；积分 900 → 1200", "Kettle → Teapot; points 900 → 1200"),
    "Store 12; 9.90 wechat": ("Store 12；已收取 ¥9.90（微信支付）", "Store 12; ¥9.90 paid by WeChat Pay"),
}


@contextmanager
def reading(app, language: str):
    with app.test_request_context(headers={"Accept-Language": language}):
        refresh()  # tests share one app context, where Flask-Babel keeps the last locale
        yield


def _literal_notes() -> set[str]:
    return {note for path in (ROOT / "mall").rglob("*.py") for note in NOTE_CALL.findall(path.read_text())}


def test_every_note_a_service_writes_on_an_order_has_a_translation():
    assert record  # the call the scan looks for
    written = _literal_notes()
    assert "cash due at the counter" in written and len(written) >= 10  # the scan still finds them
    assert not written - set(FIXED), sorted(written - set(FIXED))


@pytest.mark.parametrize("note", sorted(FIXED))
def test_a_known_note_reads_in_chinese(app, note):
    with reading(app, "zh-CN"):
        shown = order_note(note)
    assert shown != note and not LATIN_WORD.search(shown), shown


def test_notes_with_numbers_and_times_read_in_the_readers_language(app):
    for note, (chinese, english) in SAMPLES.items():
        with reading(app, "zh-CN"):
            assert order_note(note) == chinese
        with reading(app, "en"):
            assert order_note(note) == english
    with reading(app, "zh-CN"):
        moved = order_note("from 2026-12-20 06:30 UTC")  # a booking moved: shown in the shop's time
        assert moved.startswith("原时间 2026年12月20日") and "UTC" not in moved


def test_a_persons_own_note_is_shown_as_written(app):
    with reading(app, "zh-CN"):
        assert order_note("Customer asked to collect on Friday") == "Customer asked to collect on Friday"
        assert order_note(None) == ""
