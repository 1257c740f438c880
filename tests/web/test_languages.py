"""Finnish by default, Swedish and English per user; every UI string translated."""
from __future__ import annotations

from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from .test_pages import post, sign_in

ROOT = Path(__file__).resolve().parents[2]
TRANSLATIONS = ROOT / "orchestrator" / "web" / "translations"


def ui_messages() -> set[str]:
    method_map = [("orchestrator/**.py", "python"), ("orchestrator/web/templates/**.html", "jinja2")]
    found = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
            str(ROOT), method_map, keywords={"_": None, "gettext": None, "_l": None}):
        found.add(message if isinstance(message, str) else message[0])
    return found


@pytest.mark.parametrize("language", ["fi", "sv"])
def test_every_ui_string_has_a_translation(language):
    with (TRANSLATIONS / language / "LC_MESSAGES" / "messages.po").open("rb") as f:
        catalog = read_po(f)
    translated = {m.id for m in catalog if m.id and m.string and not m.fuzzy}
    missing = sorted(ui_messages() - translated)
    assert missing == [], f"untranslated in {language}: {missing[:10]}"


def test_finnish_by_default_then_each_user_picks_a_language(app, deployed):
    nina = sign_in(app, "nina")
    page = nina.get("/inbox").get_data(as_text=True)
    assert '<html lang="fi">' in page and "Kirjaudu ulos" in page
    post(nina, "/language", {"lang": "sv", "next": "/inbox"})
    page = nina.get("/inbox").get_data(as_text=True)
    assert '<html lang="sv">' in page and "Logga ut" in page
    # the choice is the user's, not the browser's: a new session keeps it
    again = sign_in(app, "nina")
    assert "Logga ut" in again.get("/inbox").get_data(as_text=True)
    post(again, "/language", {"lang": "en", "next": "/inbox"})
    assert "Sign out" in again.get("/inbox").get_data(as_text=True)
    assert "Kirjaudu ulos" in sign_in(app, "noora").get("/inbox").get_data(as_text=True)
