"""Acronyms a document defines in its own text ("Network and Edge (NEX)", "Client Computing Group
(CCG)"): a question may name the thing either way, and the table that answers it often uses only
the long form. Read off each document at corpus build, used only for the documents a user may read."""

import re
from collections.abc import Iterable, Mapping

from app.retrieval.glossary import acronyms, spells
from app.retrieval.text import content_terms

# Words in title case (and the small words between them), then the acronym in brackets.
_DEFINED = re.compile(
    r"((?:[A-Z][A-Za-z]*|and|&|of|for|the)(?:[ \t]+(?:[A-Z][A-Za-z]*|and|&|of|for|the)){1,6})[ \t]*"
    r"\(([A-Z][A-Z&]{1,5})\)"
)


def defined_acronyms(text: str) -> dict[str, str]:
    """Lower-cased acronym -> lower-cased long form, for each one the text defines: the shortest run
    of words before the brackets whose initials spell it ("... of our Client Computing Group (CCG)")."""
    found: dict[str, str] = {}
    for match in _DEFINED.finditer(text):
        words, acronym = match.group(1).split(), match.group(2)
        for start in range(len(words) - 2, -1, -1):
            phrase = " ".join(words[start:])
            if words[start][:1].isupper() and spells(acronym, phrase):
                found.setdefault(acronym.lower(), phrase.lower())
                break
    return found


def spelt_out_terms(question: str, definitions: Iterable[Mapping[str, str]]) -> list[str]:
    """The content terms of the long forms of the acronyms a question uses, as the given
    documents define them."""
    asked = {a.lower() for a in acronyms(question)}
    if not asked:
        return []
    phrases = {d[a] for d in definitions for a in asked & d.keys()}
    return [t for phrase in sorted(phrases) for t in content_terms(phrase)]
