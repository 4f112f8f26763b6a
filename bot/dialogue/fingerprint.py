"""The short fingerprint of the English a translation was made from.

Stored beside each translation (``cy_from: "1a2b3c4d"``), so that when the English
changes the translation is known to be out of date ("fuzzy") and parents see the English
until a translator has looked at it again. Pure, and imported by the loader.
"""

from __future__ import annotations

import hashlib

SOURCE_LANGUAGE = "en"  # translators translate from the English
FROM_SUFFIX = "_from"  # `cy_from:` beside `cy:` in a text
FUZZY = "fuzzy"  # a translation a translator marked as needing review


def source_hash(english: str) -> str:
    """Eight hex digits that change whenever the English changes."""
    return hashlib.sha256(english.encode("utf-8")).hexdigest()[:8]


def fuzzy_languages(variants: dict[str, str], origins: dict[str, str]) -> frozenset[str]:
    """Languages whose translation was made from other English than the text's own.

    A translation without a recorded origin (written by hand in the YAML) is taken as
    current: only translations that went through a PO file carry a fingerprint.
    """
    english = variants.get(SOURCE_LANGUAGE)
    if english is None:
        return frozenset(origins) & frozenset(variants)
    current = source_hash(english)
    return frozenset(
        lang for lang, origin in origins.items() if lang in variants and origin != current
    )
