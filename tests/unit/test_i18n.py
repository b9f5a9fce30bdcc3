"""English and Simplified Chinese ship complete, in step with the source, and pages follow
the member's language."""
import re
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
TRANSLATIONS = ROOT / "mall" / "translations"
LOCALES = ("zh_Hans", "en")
PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def _catalog(locale):
    with open(TRANSLATIONS / locale / "LC_MESSAGES" / "messages.po", "rb") as f:
        return read_po(f, locale=locale)


def _ids(catalog):
    return {m.id if isinstance(m.id, str) else m.id[0] for m in catalog if m.id}


@pytest.fixture(scope="module", autouse=True)
def compiled():
    """Pages below need the .mo files; build them from the .po files (they are not in git)."""
    for locale in LOCALES:
        catalog = _catalog(locale)
        with open(TRANSLATIONS / locale / "LC_MESSAGES" / "messages.mo", "wb") as f:
            write_mo(f, catalog)


@pytest.mark.parametrize("locale", LOCALES)
def test_every_message_is_translated_and_none_is_fuzzy(locale):
    catalog = _catalog(locale)
    untranslated = [m.id for m in catalog if m.id and (not m.string or not all(m.string) if isinstance(m.string, tuple) else not m.string)]
    assert not catalog.fuzzy
    assert not untranslated, f"{locale}: untranslated {untranslated}"
    assert not [m.id for m in catalog if m.id and m.fuzzy], f"{locale}: fuzzy entries"


@pytest.mark.parametrize("locale", LOCALES)
def test_placeholders_in_translations_match_the_source(locale):
    wrong = []
    for m in _catalog(locale):
        if not m.id:
            continue
        source = m.id if isinstance(m.id, str) else m.id[0]
        strings = m.string if isinstance(m.string, tuple) else (m.string,)
        for text in strings:
            if set(PLACEHOLDER.findall(text)) != set(PLACEHOLDER.findall(source)):
                wrong.append((source, text))
    assert not wrong, wrong


def test_catalogues_are_in_step_with_the_source(tmp_path):
    pot = tmp_path / "messages.pot"
    subprocess.run([sys.executable, "-c", "from babel.messages.frontend import main; main()", "-q", "extract", "-F", "babel.cfg",
                    "-k", "_l", "-k", "lazy_gettext", "-o", str(pot), "."], cwd=ROOT, check=True)
    with open(pot, "rb") as f:
        source = _ids(read_po(f))
    for locale in LOCALES:
        shipped = _ids(_catalog(locale))
        assert not source - shipped, f"{locale} lacks {sorted(source - shipped)}"
        assert not shipped - source, f"{locale} has stale {sorted(shipped - source)}"


def test_pages_follow_accept_language(client):
    assert "登录" in client.get("/login", headers={"Accept-Language": "zh-CN,zh;q=0.9"}).get_data(as_text=True)
    english = client.get("/login", headers={"Accept-Language": "en-GB"}).get_data(as_text=True)
    assert "Log in" in english and "登录" not in english


def test_the_language_switch_wins_over_the_browser_and_is_saved_for_the_member(client, tiers, clock):
    from mall.accounts.models import User
    from mall.extensions import db
    from tests.factories import PASSWORD, make_user
    make_user(clock.now(), login="lang@example.com")
    db.session.commit()
    client.post("/login", data={"identifier": "lang@example.com", "password": PASSWORD})
    client.post("/locale", data={"locale": "zh_Hans", "next": "/"})
    page = client.get("/", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "我的积分" in page or "积分" in page
    assert db.session.scalar(db.select(User.locale).where(User.email == "lang@example.com")) == "zh_Hans"
    assert client.post("/locale", data={"locale": "klingon"}).status_code == 302
    assert db.session.scalar(db.select(User.locale).where(User.email == "lang@example.com")) == "zh_Hans"
