"""The subset of HTML that Telegram accepts in messages: checking it and measuring it.

Authors may write <b>, <i>, <u>, <s>, <a href>, <blockquote> and <code>. Anything else is
caught at validation, so a send never fails at run time because of formatting.
"""

from __future__ import annotations

import html
import re

ALLOWED_TAGS = frozenset({"b", "i", "u", "s", "a", "blockquote", "code"})
ALLOWED_SCHEMES = ("https://", "http://", "tg://")

_TOKEN = re.compile(r"<[^<>]*>|<|>|&[^\s;&<>]*;?")
_TAG = re.compile(r"^<(/?)([A-Za-z][A-Za-z0-9-]*)\s*(.*?)\s*(/?)>$", re.S)
_HREF = re.compile(r"""^href\s*=\s*("([^"]*)"|'([^']*)')$""", re.S)
_ENTITY = re.compile(r"^&(lt|gt|amp|quot|#\d{1,7}|#x[0-9A-Fa-f]{1,6});$")


def html_problems(text: str) -> list[tuple[str, str, int]]:
    """Formatting problems as (code, message, offset in text). Empty when Telegram would
    accept the text with parse_mode=HTML."""
    problems: list[tuple[str, str, int]] = []
    stack: list[tuple[str, int]] = []
    for m in _TOKEN.finditer(text):
        token, at = m.group(0), m.start()
        if token.startswith("&"):
            if not _ENTITY.match(token):
                problems.append(
                    (
                        "BL030",
                        f"'{token[:12]}' is not an entity Telegram knows; write a plain & as &amp;",
                        at,
                    )
                )
            continue
        if token in ("<", ">"):
            if token == "<":
                problems.append(("BL030", "a '<' that does not start a tag; write &lt;", at))
            continue
        tag = _TAG.match(token)
        if not tag:
            problems.append(("BL030", f"'{token[:30]}' is not a tag Telegram understands", at))
            continue
        closing, name, attrs, selfclose = (
            tag.group(1),
            tag.group(2).lower(),
            tag.group(3),
            tag.group(4),
        )
        if name not in ALLOWED_TAGS:
            problems.append(("BL030", f"<{closing}{name}> is not allowed in Telegram messages", at))
            continue
        if closing:
            if not stack:
                problems.append(("BL031", f"</{name}> closes a tag that was never opened", at))
            elif stack[-1][0] != name:
                problems.append(
                    ("BL031", f"</{name}> closes <{stack[-1][0]}>, which is still open", at)
                )
                stack.pop()
            else:
                stack.pop()
            continue
        if selfclose:
            problems.append(("BL031", f"<{name}/> must have text inside: <{name}>...</{name}>", at))
            continue
        if name == "a":
            href = _HREF.match(attrs)
            url = (
                href.group(2)
                if href and href.group(2) is not None
                else href.group(3)
                if href
                else None
            )
            if url is None:
                problems.append(("BL032", '<a> needs exactly one attribute: href="..."', at))
            elif not url.startswith(ALLOWED_SCHEMES):
                problems.append(("BL032", f"link '{url[:40]}' must start with https://", at))
        elif attrs:
            problems.append(("BL032", f"<{name}> takes no attributes", at))
        stack.append((name, at))
    for name, at in stack:
        problems.append(("BL031", f"<{name}> is never closed", at))
    return problems


def visible_text(text: str) -> str:
    """What the reader sees: tags dropped and entities decoded."""
    return html.unescape(re.sub(r"<[^<>]*>", "", text))


def telegram_length(text: str) -> int:
    """Length as Telegram counts it (UTF-16 code units of the visible text)."""
    return len(visible_text(text).encode("utf-16-le")) // 2


def offset_to_pos(text: str, offset: int, start: tuple[int, int]) -> tuple[int, int]:
    """Best-effort file position of ``offset`` within a text that starts at ``start``.

    Exact for plain and block scalars on their first line; otherwise the text's own line.
    """
    before = text[:offset]
    if "\n" not in before:
        return start[0], start[1] + offset
    return start
