"""The patient's words: all in one module, written for the patient, ready for translation."""

from __future__ import annotations

import ast
import re
import string
from pathlib import Path

import pytest

from services.connect import patient_texts
from services.connect.patient_texts import TEXTS, TRANSLATIONS, text

from .test_browser import NOT_FOR_PATIENTS

ROOT = Path(__file__).resolve().parents[2]
VALUES = {"clinic": "the clinic", "Clinic": "The clinic", "vendor": "Withings", "contact": "030 1234",
          "missing": "your sleep"}


@pytest.mark.parametrize("key", sorted(TEXTS))
def test_every_text_is_for_the_patient(key: str) -> None:
    words = text(key, **VALUES)
    assert not NOT_FOR_PATIENTS.findall(words), f"{key}: {words}"
    assert "{" not in words and "}" not in words  # every placeholder is one of the documented ones


def test_the_pages_hold_no_sentences_of_their_own() -> None:
    """Patient words live only in patient_texts: the page and listener code holds no sentence to translate."""
    # the page builder, and the listener's request handler (its other messages are the coordinator's)
    for module, part in (("services/connect/patient_pages.py", None), ("services/connect/callback_server.py",
                                                                        "_Handler")):
        tree: ast.AST = ast.parse((ROOT / module).read_text(encoding="utf-8"))
        if part:
            tree = next(n for n in ast.walk(tree) if isinstance(n, ast.ClassDef) and n.name == part)
        docstrings = {id(n.body[0].value) for n in ast.walk(tree)
                      if isinstance(n, ast.Module | ast.ClassDef | ast.FunctionDef)
                      and n.body and isinstance(n.body[0], ast.Expr)}
        strings = [n.value for n in ast.walk(tree)
                   if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in docstrings]
        assert len(strings) > 10  # the walk saw the code
        for value in strings:
            prose = re.fullmatch(r"[A-Z][a-z']+( [a-z',]+){3,}[.!?]?", value.strip())
            assert prose is None, f"{module}: {value!r} belongs in patient_texts"


def test_a_translation_is_a_dictionary_with_the_same_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(TRANSLATIONS, "de", {"connected.title": "Sie sind verbunden"})
    assert text("connected.title", "de") == "Sie sind verbunden"
    assert text("footer.close", "de") == TEXTS["footer.close"]  # not translated yet: English
    fields = {k: {f for _, f, _, _ in string.Formatter().parse(v) if f} for k, v in TEXTS.items()}
    assert fields["connected.partial"] == {"missing", "Clinic", "clinic"}
    assert patient_texts.missing_data(("a", "b", "c"), {"a": "x", "b": "y", "c": "z"}) == "x, y and z"
