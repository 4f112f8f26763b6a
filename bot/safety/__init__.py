"""The safety net: spot risk language in anything a parent types, wherever they are.

The phrase lists live in YAML (``dialogues/safety/risk-phrases.yaml``) so volunteers and
clinicians can review them; this module only normalises text (case, punctuation, emoji,
common misspellings and text-speak) and matches the phrases. It is pure and fast: it runs
on every free-text message before anything else.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from bot.problems import Problem
from bot.yaml_reader import YList, YMap, read_yaml

PHRASES_FILE = Path("safety") / "risk-phrases.yaml"
GAP_WORDS = 3  # how many words a '*' in a phrase may stand for
_KEYS = ("phrases", "exceptions", "spellings", "fuzzy_words")
_APOSTROPHES = str.maketrans({"\u2019": "", "\u2018": "", "'": "", "`": "", "\u02bc": ""})
_REPEATS = re.compile(r"([a-z])\1{2,}")


@dataclass(frozen=True)
class RiskMatcher:
    phrases: tuple[re.Pattern, ...]
    exceptions: tuple[re.Pattern, ...] = ()
    spellings: dict = field(default_factory=dict)  # word -> replacement words
    fuzzy_words: tuple[str, ...] = ()
    source: tuple[str, ...] = ()  # the phrases as written, for reports

    def prepare(self, text: str) -> str:
        """The text as the phrases see it: normalised, exceptions cut out, spellings fixed."""
        norm = normalise(text)
        for exc in self.exceptions:
            # Cut, don't join: an exception must not glue two halves into a new phrase.
            norm = exc.sub(" | ", norm)
        return normalise(norm, self.spellings, self.fuzzy_words)

    def matches(self, text: str) -> list[str]:
        """The phrases (as written in the YAML) that fire on ``text``."""
        norm = self.prepare(text)
        return [self.source[i] for i, p in enumerate(self.phrases) if p.search(norm)]


def is_risk(text: str, matcher: RiskMatcher | None) -> bool:
    if matcher is None or not text:
        return False
    norm = matcher.prepare(text)
    return any(p.search(norm) for p in matcher.phrases)


def normalise(text: str, spellings: dict | None = None, fuzzy_words: tuple[str, ...] = ()) -> str:
    """Lower case, no accents, apostrophes or punctuation, emoji gone, repeated letters
    squashed ('dieeee' -> 'die'); with ``spellings``, misspellings and text-speak replaced."""
    text = unicodedata.normalize("NFKD", text[:10_000]).lower().translate(_APOSTROPHES)
    text = "".join(
        c if c.isalnum() or c == "|" else " " for c in text if not unicodedata.combining(c)
    )
    text = _REPEATS.sub(r"\1", text)
    if not spellings and not fuzzy_words:
        return " " + " ".join(text.split()) + " "
    words: list[str] = []
    for word in text.split():
        replacement = (spellings or {}).get(word)
        if replacement is None and fuzzy_words and len(word) >= 6:
            close = difflib.get_close_matches(word, fuzzy_words, n=1, cutoff=0.8)
            replacement = close[0] if close else None
        words.append(replacement if replacement is not None else word)
    return " " + " ".join(words) + " "


def compile_phrase(phrase: str, spellings: dict | None = None) -> re.Pattern:
    """'want * die' -> words in order, '*' standing for up to three words;
    '(be here|live)' offers alternatives."""
    parts: list[str] = []
    for token in re.findall(r"\([^()]*\)\??|\*|[^\s()*]+", phrase):
        if token == "*":
            parts.append(rf"(?:[^\s|]+ ){{0,{GAP_WORDS}}}")
        elif token == "#":
            parts.append(r"\d+ ")
        elif token.startswith("("):
            optional = token.endswith("?")
            alts = [a.strip() for a in token.rstrip("?")[1:-1].split("|")]
            alts = [
                r"\d+" if a == "#" else re.escape(normalise(a, spellings).strip())
                for a in alts
                if a.strip()
            ]
            parts.append("(?:" + "|".join(a + " " for a in alts) + ")" + ("?" if optional else ""))
        else:
            norm = normalise(token, spellings).strip()
            if norm:
                parts.append(re.escape(norm) + " ")
    return re.compile(" " + "".join(parts))


def _balanced_flat(phrase: str) -> bool:
    depth = 0
    for c in phrase:
        depth += {"(": 1, ")": -1}.get(c, 0)
        if depth not in (0, 1):
            return False
    return depth == 0


def load_risk_phrases(dialogue_dir: Path) -> tuple[RiskMatcher | None, list[Problem]]:
    """Read and compile ``<dialogue_dir>/safety/risk-phrases.yaml``."""
    path = (
        dialogue_dir / PHRASES_FILE if dialogue_dir.is_dir() else dialogue_dir.parent / PHRASES_FILE
    )
    name = str(path)
    try:
        data = path.read_bytes()
    except OSError:
        return None, [
            Problem(
                "BL070",
                "the safety phrase list is missing: the bot must not run without its safety net",
                name,
            )
        ]
    return parse_risk_phrases(data, name)


def parse_risk_phrases(data: bytes, name: str) -> tuple[RiskMatcher | None, list[Problem]]:
    root, problems = read_yaml(data, name)
    if root is None or problems:
        return None, problems
    if not isinstance(root, YMap):
        return None, [Problem("BL070", "the file should be a mapping with 'phrases:'", name, 1, 1)]
    for key in root:
        if key not in _KEYS:
            problems.append(
                Problem(
                    "BL007",
                    f"unknown key '{key}' in the safety phrase list",
                    name,
                    *root.where(key),
                )
            )

    def words(key: str) -> list[tuple[str, tuple[int, int]]]:
        value = root.get(key)
        if value is None:
            return []
        if not isinstance(value, YList):
            problems.append(
                Problem("BL070", f"'{key}' should be a list", name, *root.where_value(key))
            )
            return []
        out = []
        for i, item in enumerate(value):
            if isinstance(item, str) and item.strip():
                if not _balanced_flat(item):
                    problems.append(
                        Problem(
                            "BL070",
                            f"entry {i + 1} of '{key}' has nested or unclosed brackets: '{item}'",
                            name,
                            *value.where(i),
                            hint="Alternatives are one level deep: (my arms|my legs), "
                            "not my (arms|legs) inside another bracket.",
                        )
                    )
                    continue
                out.append((item, value.where(i)))
            else:
                problems.append(
                    Problem(
                        "BL070",
                        f"entry {i + 1} of '{key}' should be a phrase",
                        name,
                        *value.where(i),
                    )
                )
        return out

    spellings: dict[str, str] = {}
    raw_spellings = root.get("spellings")
    if isinstance(raw_spellings, YMap):
        for variant, canonical in raw_spellings.items():
            if isinstance(canonical, str | int) and not isinstance(canonical, bool):
                spellings[normalise(variant).strip()] = normalise(str(canonical)).strip()
            else:
                problems.append(
                    Problem(
                        "BL070",
                        f"spelling '{variant}' should map to words",
                        name,
                        *raw_spellings.where(variant),
                    )
                )
    elif raw_spellings is not None:
        problems.append(
            Problem(
                "BL070", "'spellings' should be a mapping", name, *root.where_value("spellings")
            )
        )
    phrases = words("phrases")
    if not phrases and not problems:
        problems.append(Problem("BL070", "no phrases: the safety net would never fire", name))
    if problems:
        return None, problems
    fuzzy = tuple(normalise(w).strip() for w, _ in words("fuzzy_words"))
    matcher = RiskMatcher(
        phrases=tuple(compile_phrase(p, spellings) for p, _ in phrases),
        exceptions=tuple(compile_phrase(e) for e, _ in words("exceptions")),
        spellings=spellings,
        fuzzy_words=fuzzy,
        source=tuple(p for p, _ in phrases),
    )
    return matcher, problems
