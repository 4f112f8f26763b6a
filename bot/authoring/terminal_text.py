"""Show Telegram-HTML message text in a terminal: bold stays bold, links show their address."""

from __future__ import annotations

import html
import re

_LINK = re.compile(r'<a\s+href\s*=\s*["\']([^"\']*)["\']\s*>(.*?)</a>', re.S | re.I)
_BOLD = re.compile(r"<(b)>(.*?)</b>", re.S | re.I)
_TAG = re.compile(r"<[^<>]*>")


def to_terminal(text: str, *, colour: bool) -> str:
    text = _LINK.sub(lambda m: f"{m.group(2)} ({m.group(1)})", text)
    if colour:
        text = _BOLD.sub(lambda m: f"\033[1m{m.group(2)}\033[0m", text)
    return html.unescape(_TAG.sub("", text))
