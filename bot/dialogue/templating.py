"""Template variables in dialogue text: ``{first_name}`` or ``{first_name|friend}``.

Values come from parents or their Telegram profile, so they are always HTML-escaped
before they are put into a message.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator, Mapping

PLACEHOLDER = re.compile(r"\{([a-z][a-z0-9_]*)(?:\|([^{}]*))?\}")


def placeholders(text: str) -> Iterator[tuple[str, str | None, int]]:
    """(name, default or None, offset) for each placeholder in ``text``."""
    for m in PLACEHOLDER.finditer(text):
        yield m.group(1), m.group(2), m.start()


def render(text: str, values: Mapping[str, object], *, escape: bool = True) -> str:
    """Fill in placeholders. ``escape=False`` only for plain-text places (button labels)."""

    def sub(m: re.Match) -> str:
        value = values.get(m.group(1))
        if value is None or str(value) == "":
            return m.group(2) or ""  # the default is the author's text: not escaped
        return html.escape(str(value), quote=False) if escape else str(value)

    return PLACEHOLDER.sub(sub, text)
