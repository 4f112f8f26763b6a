"""Review records, and which languages a running bot may show to whom.

A translation is a draft until a native speaker has read it. The dialogue records who
reviewed each language and when, like a signpost's ``checked``::

    settings:
      translations:
        cy:
          reviewed_by: "Name"            # every message
          reviewed_on: 2027-01-20
          crisis_reviewed_by: "Name"     # the crisis reply and the safety question, first
          crisis_reviewed_on: 2027-01-10
          phrases_reviewed_by: "Name"    # safety/risk-phrases.cy.yaml
          phrases_reviewed_on: 2027-01-10

``run`` serves a language to parents only when all three are filled in. A language the
deployer's config lists under ``dialogues.preview_languages`` is offered to admins only.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field, fields, replace

from bot.dialogue.fingerprint import SOURCE_LANGUAGE
from bot.dialogue.model import Dialogue, Review

REVIEW_KEYS = tuple(f.name for f in fields(Review))


def read_reviews(p, value: object, pos) -> dict[str, Review]:
    """Parse ``settings: translations:``; ``p`` is the loader's file parser (for reports)."""
    from bot.dialogue.loader import LANG_CODE  # the loader imports this module: import late

    mapping = p.expect_map(value, "'translations'", pos)
    if mapping is None:
        return {}
    out: dict[str, Review] = {}
    for lang, record in mapping.items():
        if not LANG_CODE.match(lang):
            p.report(
                "BL007", f"'{lang}' in 'translations' is not a language code", mapping.where(lang)
            )
            continue
        if record is None:
            out[lang] = Review()
            continue
        rec = p.expect_map(record, f"the review record of '{lang}'", mapping.where_value(lang))
        if rec is None:
            continue
        p.known_keys(rec, REVIEW_KEYS, f"the review record of '{lang}'")
        kwargs: dict = {}
        for key in REVIEW_KEYS:
            val = rec.get(key)
            if val is None or val == "":
                continue
            if key.endswith("_on"):
                if isinstance(val, dt.datetime):
                    val = val.date()
                if not isinstance(val, dt.date):
                    p.report(
                        "BL061", f"'{key}' of '{lang}' is not a date: '{val}'", rec.where_value(key)
                    )
                    continue
            else:
                val = str(val).strip()
            kwargs[key] = val
        review = Review(**kwargs)
        for who, on, what in (
            ("reviewed_by", "reviewed_on", "every message"),
            ("crisis_reviewed_by", "crisis_reviewed_on", "the crisis reply"),
            ("phrases_reviewed_by", "phrases_reviewed_on", "the phrase list"),
        ):
            if bool(kwargs.get(who)) != bool(kwargs.get(on)):
                p.report(
                    "BL054",
                    f"the review of {what} in '{lang}' needs both '{who}' and '{on}'",
                    rec.pos,
                )
        if review.reviewed and not review.crisis_reviewed:
            p.report(
                "BL054",
                f"'{lang}' is marked reviewed, but its crisis reply and safety question are "
                "not: they are reviewed on their own, first",
                rec.pos,
            )
        out[lang] = review
    return out


def refusal(dialogue: Dialogue, lang: str) -> str | None:
    """Why ``lang`` may not be shown to parents, or None when it may."""
    settings = dialogue.settings
    if lang == SOURCE_LANGUAGE:  # the language the dialogue is written in
        return None
    review = settings.translations.get(lang)
    where = f"settings: translations: {lang}"
    if review is None or not review.crisis_reviewed:
        return (
            f"its crisis reply and safety question have not been reviewed ({where} has no "
            "crisis_reviewed_by and crisis_reviewed_on)"
        )
    if lang not in dialogue.language_phrases:
        return f"it has no safety phrase list (safety/risk-phrases.{lang}.yaml)"
    if not review.phrases_reviewed:
        return (
            f"its safety phrase list has not been reviewed ({where} has no "
            "phrases_reviewed_by and phrases_reviewed_on)"
        )
    if not review.reviewed:
        return f"it has not been reviewed ({where} has no reviewed_by and reviewed_on)"
    return None


@dataclass(frozen=True)
class Gate:
    """What ``run`` serves: the dialogue with only the languages it may offer."""

    dialogue: Dialogue
    preview: frozenset[str] = frozenset()  # offered to admins only
    notes: tuple[str, ...] = ()  # languages refused or previewed, with the reason
    errors: tuple[str, ...] = field(default=())  # the bot must not start


def gate_languages(dialogue: Dialogue, preview_languages: Iterable[str] = ()) -> Gate:
    settings = dialogue.settings
    wanted_preview = tuple(preview_languages)
    errors = []
    for lang in wanted_preview:
        if lang not in settings.languages:
            errors.append(
                f"dialogues.preview_languages lists '{lang}', which is not one of the "
                f"dialogues' languages ({', '.join(settings.languages)})"
            )
    served, preview, notes = [], [], []
    for lang in settings.languages:
        why = refusal(dialogue, lang)
        if why is not None and lang == settings.default_language:
            errors.append(f"the default language '{lang}' cannot be served to parents: {why}")
        if why is None:
            served.append(lang)
        elif lang in wanted_preview:
            preview.append(lang)
            notes.append(f"language '{lang}' is shown to admins only (preview): {why}")
        else:
            notes.append(
                f"language '{lang}' is refused: {why}. Parents are not offered it; to let "
                "admins try it, list it under dialogues.preview_languages in the config"
            )
    gated = replace(dialogue, settings=replace(settings, languages=tuple(served + preview)))
    return Gate(gated, frozenset(preview), tuple(notes), tuple(errors))


def language_summary(dialogue: Dialogue, problems) -> list[str]:
    """One line per translated language for ``validate``: missing, fuzzy, variables that
    differ from the English, and whether run would offer it."""
    lines = []
    for lang in dialogue.settings.languages:
        if lang == SOURCE_LANGUAGE:
            continue
        missing = sum(1 for p in problems if p.code == "BL050" and _names(p.message, lang))
        fuzzy = sum(
            1 for p in problems if p.code == "BL052" and f"the {lang} translation" in p.message
        )
        variables = sum(1 for p in problems if p.code == "BL053" and f"({lang})" in p.message)
        why = refusal(dialogue, lang)
        status = (
            "reviewed: run offers it" if why is None else f"NOT REVIEWED: run refuses it ({why})"
        )
        lines.append(
            f"{lang}: {missing} missing, {fuzzy} fuzzy (English shown), {variables} with other "
            f"variables than the English; {status}"
        )
    return lines


def _names(message: str, lang: str) -> bool:
    """Whether a BL050 message ('... has no cy, es text') names ``lang``."""
    _, _, tail = message.rpartition(" has no ")
    return lang in tail.removesuffix(" text").split(", ")
