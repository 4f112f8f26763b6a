"""The safety net: spot risk language in anything a parent types, wherever they are.

Two parts. The phrase list (``dialogues/safety/risk-phrases.yaml``) is what volunteers and
clinicians write and review; this module normalises text (case, punctuation, emoji, common
misspellings and text-speak) and matches the phrases. The model (``bot/safety/model.py``),
learned from the labelled examples in ``dialogues/safety/training/``, scores every message:
a linear model averaged with the vote of the most similar examples
(``bot/safety/neighbours.py``). It catches risk said in words nobody listed, and keeps a
phrase match that looks like ordinary grief at "ask first" (see ``assess``). Both are pure
and fast: they run on every free-text message before anything else.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from dataclasses import dataclass, field, replace
from pathlib import Path

from bot.dialogue.problems import Problem, has_errors
from bot.dialogue.yaml_reader import YList, YMap, read_yaml
from bot.safety.model import RiskModel, read_risk_model

PHRASES_FILE = Path("safety") / "risk-phrases.yaml"
MODEL_FILE = Path("safety") / "risk-model.json"
GAP_WORDS = 3  # how many words a '*' in a phrase may stand for
# A phrase match is judged on the words around it, too: so many on each side. A long
# message about a sunny day that ends "i want to die" is not ordinary grief.
WINDOW_WORDS = 8
_KEYS = ("phrases", "exceptions", "spellings", "fuzzy_words", "safe_answers", "safe_endings")
_APOSTROPHES = str.maketrans({"\u2019": "", "\u2018": "", "'": "", "`": "", "\u02bc": ""})
_REPEATS = re.compile(r"([a-z])\1{2,}")


@dataclass(frozen=True)
class RiskMatcher:
    phrases: tuple[re.Pattern, ...]
    exceptions: tuple[re.Pattern, ...] = ()
    spellings: dict = field(default_factory=dict)  # word -> replacement words
    fuzzy_words: tuple[str, ...] = ()
    source: tuple[str, ...] = ()  # the phrases as written, for reports
    model: RiskModel | None = None  # the learned second opinion, when there is one
    # A typed answer to "are you having thoughts of ending your life?" means "No, I'm safe"
    # when it starts with safe answers and goes on with nothing but those and safe endings.
    safe_answers: tuple[re.Pattern, ...] = ()
    safe_endings: tuple[re.Pattern, ...] = ()

    def prepare(self, text: str) -> str:
        """The text as the phrases see it: normalised, exceptions cut out, spellings fixed."""
        norm = normalise(text)
        for exc in self.exceptions:
            # Cut, don't join: an exception must not glue two halves into a new phrase.
            norm = exc.sub(" | ", norm)
        return normalise(norm, self.spellings, self.fuzzy_words)

    def phrase_windows(self, norm: str, most: int = 3) -> list[str]:
        """Around each phrase that matches prepared text ``norm`` (at most ``most``
        phrases), the match and ``WINDOW_WORDS`` words either side (to be prepared again
        before scoring, as training does)."""
        windows: list[str] = []
        for p in self.phrases:
            m = p.search(norm)
            if m is None:
                continue
            before = norm[: m.start()].split()[-WINDOW_WORDS:]
            after = norm[m.end() :].split()[:WINDOW_WORDS]
            windows.append(" ".join([*before, m.group().strip(), *after]))
            if len(windows) == most:
                break
        return windows

    def gate_score(self, norm: str, score: float) -> float:
        """What a phrase match is judged by: the message's score, or the score of the
        words around a match if that is higher."""
        if self.model is None:
            return score
        windows = self.phrase_windows(norm)
        return max([score, *(self.model.score(self.prepare(w)) for w in windows)])

    def phrase_matches(self, text: str) -> list[str]:
        """The phrases (as written in the YAML) that match ``text``."""
        norm = self.prepare(text)
        return [self.source[i] for i, p in enumerate(self.phrases) if p.search(norm)]

    def matches(self, text: str) -> list[str]:
        """Why the net acts on ``text``: the phrases that match, and the model's score
        against its thresholds with the words that pushed it up."""
        norm = self.prepare(text)
        fired = [self.source[i] for i, p in enumerate(self.phrases) if p.search(norm)]
        if self.model is not None:
            m = self.model
            score = m.score(norm)
            words = ", ".join(repr(w) for w in m.explain(norm))
            gate = self.gate_score(norm, score) if fired and score < m.phrase_gate else score
            if fired and gate < m.phrase_gate:
                fired = [
                    f"ask first: phrase '{p}', but score {gate:.2f} < {m.phrase_gate:.2f}"
                    for p in fired
                ]
            elif score >= m.threshold:
                fired.append(f"model {score:.2f} >= {m.threshold:.2f} ({words})")
            elif score >= m.ask_threshold and not fired:
                fired.append(f"ask first: model {score:.2f} >= {m.ask_threshold:.2f} ({words})")
        return fired

    def explain(self, text: str, nearest: int = 3) -> list[str]:
        """Everything behind a decision, one line each, for people reviewing it: the
        phrases, the score and its two parts, the words that pushed it, the nearest
        training examples."""
        norm = self.prepare(text)
        lines = [f"phrase: {p}" for p in self.phrase_matches(text)] or ["phrase: none"]
        m = self.model
        if m is None:
            return lines + ["model: none"]
        parts = f"linear model {m.linear_score(norm):.2f}"
        if m.neighbours is not None:
            vote = m.neighbours.score(m.blocks[0].vector(norm))
            parts += f" x {m.blend:.2f} + nearest examples {vote:.2f} x {1 - m.blend:.2f}"
        lines.append(
            f"score {m.score(norm):.2f} ({parts}); crisis reply from {m.threshold:.2f}, "
            f"ask first from {m.ask_threshold:.2f}, a phrase needs {m.phrase_gate:.2f}"
        )
        lines.append(
            "words that pushed it up: " + (", ".join(repr(w) for w in m.explain(norm)) or "none")
        )
        for ex_text, label, similarity, source in m.nearest(norm, nearest):
            lines.append(f"nearest: {similarity:.2f} {label} ({source}): {ex_text}")
        return lines

    def signature(self) -> str:
        """How text is prepared (exceptions, spellings, fuzzy words): the model learned
        from text prepared this way, so a change here makes it stale."""
        return repr(
            ([e.pattern for e in self.exceptions], sorted(self.spellings.items()), self.fuzzy_words)
        )


CRISIS, ASK = "crisis", "ask"


def assess(text: str, matcher: RiskMatcher | None) -> str | None:
    """CRISIS: send the crisis reply now. ASK: ask the parent directly whether they are
    safe, after showing the emergency numbers; asking about suicide does not put the idea
    in anyone's head, and it reaches many risk messages no phrase lists. None: nothing
    to act on.

    A phrase match gets the crisis reply unless the model's score, of the message and of
    the words around the match, is below its phrase gate (the examples most like it were
    ordinary grief): then it is asked first, never ignored. Otherwise the score decides:
    the crisis reply from ``threshold``, asking from ``ask_threshold``."""
    if matcher is None or not text:
        return None
    norm = matcher.prepare(text)
    phrase = any(p.search(norm) for p in matcher.phrases)
    model = matcher.model
    if model is None:
        return CRISIS if phrase else None
    # The model reads the same prepared text: denials and everyday phrases already cut out.
    score = model.score(norm)
    if score >= model.threshold:
        return CRISIS
    if phrase and (
        score >= model.phrase_gate or matcher.gate_score(norm, score) >= model.phrase_gate
    ):
        return CRISIS
    return ASK if phrase or score >= model.ask_threshold else None


def is_risk(text: str, matcher: RiskMatcher | None) -> bool:
    """Whether the crisis reply is sent straight away."""
    return assess(text, matcher) == CRISIS


def is_safe_answer(text: str, matcher: RiskMatcher | None) -> bool:
    """Whether ``text``, typed in answer to the direct question, is a clear no and nothing
    else: it starts with a safe answer ("no", "I'm safe", ...), and what follows is only
    more of them or harmless endings ("just sad", "thank you"). "no, not yet", "no one
    cares" and "I'm ok I guess" are not."""
    if matcher is None or not text:
        return False
    norm = normalise(text, matcher.spellings)
    norm, answered = _strip_leading(norm, matcher.safe_answers)
    if not answered:
        return False
    norm, _ = _strip_leading(norm, matcher.safe_answers + matcher.safe_endings)
    return not norm.strip()


def _strip_leading(norm: str, patterns: tuple[re.Pattern, ...]) -> tuple[str, bool]:
    """Remove matches of ``patterns`` from the start of ``norm``, longest first, while any
    match; say whether one did."""
    stripped = False
    while norm.strip():
        ends = [m.end() for p in patterns if (m := p.match(norm))]
        if not ends:
            break
        stripped = True
        norm = " " + norm[max(ends) :]
    return norm, stripped


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
    """Read and compile ``<dialogue_dir>/safety/risk-phrases.yaml``, with the model beside
    it (``risk-model.json``) when there is one."""
    base = dialogue_dir if dialogue_dir.is_dir() else dialogue_dir.parent
    path = base / PHRASES_FILE
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
    matcher, problems = parse_risk_phrases(data, name)
    if matcher is None:
        return None, problems
    model, model_problems = load_risk_model(base, matcher)
    if has_errors(model_problems):
        return None, problems + model_problems
    return replace(matcher, model=model), problems + model_problems


def load_risk_model(base: Path, matcher: RiskMatcher) -> tuple[RiskModel | None, list[Problem]]:
    """The model beside the phrases, checked against its training examples: a damaged
    model is an error (BL071), one older than its examples a warning (BL072)."""
    from bot.safety.train import fingerprint, read_examples, training_files

    path = base / MODEL_FILE
    try:
        model, problems = read_risk_model(path)
    except FileNotFoundError:
        return None, []
    except OSError as exc:
        return None, [
            Problem("BL071", f"the safety model cannot be read: {exc.strerror}", str(path))
        ]
    files = training_files(base)
    if model is not None and files and model.trained_on != fingerprint(files, matcher):
        # The examples changed since training: check them now, so a volunteer's slip in
        # one is found by `validate` rather than by the next person to train.
        problems += read_examples(files)[1]
        problems.append(
            Problem(
                "BL072",
                "the safety model was trained on other examples than those in "
                f"{base / 'safety' / 'training'}, or before the phrase list's exceptions "
                "or spellings changed",
                str(path),
            )
        )
    return model, problems


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
            elif isinstance(item, bool):  # YAML reads a bare no, yes, off or on as true/false
                problems.append(
                    Problem(
                        "BL070",
                        f"entry {i + 1} of '{key}' was read as {str(item).lower()}, not as words",
                        name,
                        *value.where(i),
                        hint='Put it in quotes, for example - "no".',
                    )
                )
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
    # Every list is read before deciding: a slip in any of them is reported, never skipped.
    exceptions = words("exceptions")
    fuzzy = tuple(normalise(w).strip() for w, _ in words("fuzzy_words"))
    safe_answers = words("safe_answers")
    safe_endings = words("safe_endings")
    if not phrases and not problems:
        problems.append(Problem("BL070", "no phrases: the safety net would never fire", name))
    if problems:
        return None, problems
    matcher = RiskMatcher(
        phrases=tuple(compile_phrase(p, spellings) for p, _ in phrases),
        exceptions=tuple(compile_phrase(e) for e, _ in exceptions),
        spellings=spellings,
        fuzzy_words=fuzzy,
        source=tuple(p for p, _ in phrases),
        safe_answers=tuple(compile_phrase(a, spellings) for a, _ in safe_answers),
        safe_endings=tuple(compile_phrase(a, spellings) for a, _ in safe_endings),
    )
    return matcher, problems
