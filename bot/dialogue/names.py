"""Read a baby's name (or names) from what a parent types: "Rose", "her name was Hope",
"Rose & Lily".

The one place where words a parent typed are kept, so only a short, clean name is: markup
and symbols are dropped, each name is at most a few words, the whole at most
:data:`MAX_LENGTH` characters. Anything longer is not taken as a name at all (the dialogue
says so kindly), so a sentence about how the parent feels is never kept.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

MAX_LENGTH = 60  # characters, after cleaning: room for "Rose, Lily and Sam" and more
MAX_NAMES = 6  # twins, triplets...: more than this is not a list of names
MAX_WORDS_PER_NAME = 3  # "Mary Ann Rose"; a longer piece is a sentence, not a name

_TAG = re.compile(r"<[^>]*>")
# Between names: commas, '&', '+', '/' and the word "and" (matched case-insensitively).
_SEPARATOR = re.compile(r"\s*(?:,|&|\+|/|\band\b)\s*", re.IGNORECASE)
_APOSTROPHES = "'’"


def parse_names(text: str, lead_ins: Iterable[str] = ()) -> str | None:
    """The name or names in ``text``, joined naturally ("Rose and Lily"), or None.

    ``lead_ins`` are the dialogue's words to drop from the front ("her name was"); they
    are matched ignoring capitals, longest first.
    """
    text = " ".join(_TAG.sub(" ", text).split())  # markup goes first, then the lead-in
    pieces = _SEPARATOR.split(_strip_lead_in(text, lead_ins))
    names = []
    for piece in pieces:
        piece = " ".join("".join(c if _allowed(c) else " " for c in piece).split())
        piece = piece.strip(_APOSTROPHES + "-.")
        if not piece:
            continue
        if len(piece.split()) > MAX_WORDS_PER_NAME or not any(c.isalpha() for c in piece):
            return None
        names.append(piece)
    if not names or len(names) > MAX_NAMES:
        return None
    joined = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
    return joined if len(joined) <= MAX_LENGTH else None


def _allowed(c: str) -> bool:
    # Letters and digits of every script, with their combining marks (the vowel signs of
    # Hindi or Thai, Arabic harakat, an accent typed separately): names are not only Latin.
    return c.isalnum() or unicodedata.category(c).startswith("M") or c in " -." + _APOSTROPHES


def _strip_lead_in(text: str, lead_ins: Iterable[str]) -> str:
    lowered = text.lower()
    for lead in sorted((w.strip().lower() for w in lead_ins), key=len, reverse=True):
        if (
            lead
            and lowered.startswith(lead)
            and (len(lowered) == len(lead) or not lowered[len(lead)].isalnum())
        ):
            return text[len(lead) :].lstrip(" :,-")
    return text
