"""The JSON Schema of dialogue files, built from the loader's own lists of keys.

Editors use it (``# yaml-language-server: $schema=schema.json``) for completion and inline
errors. ``python -m bot.dialogue.schema > dialogues/schema.json`` regenerates the published copy; a
test fails when the two differ, so the schema never drifts from what the loader accepts.
"""

from __future__ import annotations

import json

from bot.dialogue import loader
from bot.dialogue.model import (
    CAPTURE_KINDS,
    DEFAULT_SYSTEM_MESSAGES,
    ENTRY_POINTS,
    OPTIONAL_ENTRY_POINTS,
    REMINDER_KINDS,
    ROUTE_GRIEF,
)
from bot.dialogue.review import REVIEW_KEYS  # noqa: E402

ID = {"type": "string", "pattern": "^[a-z][a-z0-9_]*$"}
LANG_TEXT = {
    "type": "object",
    "description": "One text per language, e.g. {en: ..., cy: ...}",
    "patternProperties": {
        r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$": {"type": "string", "minLength": 1},
        r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?_from$": {
            "type": "string",
            "description": "fingerprint of the English this translation was made from",
        },
    },
    "additionalProperties": False,
    "minProperties": 1,
}
TEXT = {"anyOf": [{"type": "string", "minLength": 1}, LANG_TEXT]}
WORD = {"type": ["string", "number", "boolean"]}
VARIABLES = {
    "type": "object",
    "propertyNames": {"pattern": "^[a-z][a-z0-9_]*$"},
    "additionalProperties": WORD,
}
CONDITION = {
    "type": "object",
    "description": "variable: value, or variable: [values]; all must hold",
    "additionalProperties": {"anyOf": [WORD, {"type": "array", "items": WORD}]},
}


def _obj(props: dict, keys: tuple[str, ...], required: tuple[str, ...] = (), **extra) -> dict:
    assert set(props) == set(keys), f"schema and loader disagree: {set(props) ^ set(keys)}"
    out = {"type": "object", "properties": props, "additionalProperties": False, **extra}
    if required:
        out["required"] = list(required)
    return out


def build_schema() -> dict:
    conditional = {"if": CONDITION, "unless": CONDITION}
    message = {
        "anyOf": [
            TEXT,
            _obj(
                {"text": TEXT, "signposts": {"type": "array", "items": ID}, **conditional},
                loader.MESSAGE_KEYS,
            ),
        ]
    }
    option = _obj(
        {"label": TEXT, "to": ID, "set": VARIABLES, **conditional},
        loader.OPTION_KEYS,
        ("label", "to"),
    )
    phrases = {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]}
    route = _obj(
        {
            "match": phrases,
            "not_with": {**phrases, "description": "the route does not apply with these"},
            "grief": {
                "enum": list(ROUTE_GRIEF),
                "description": "follow: always; reflect (default): grief goes to the grief reply",
            },
            "to": ID,
            "set": VARIABLES,
        },
        loader.ROUTE_KEYS,
        ("match", "to"),
    )
    grief = _obj(
        {"match": phrases, "to": ID},
        loader.GRIEF_KEYS,
        loader.GRIEF_KEYS,
        description="words that read as grief, and the gentle reply that reflects it",
    )
    capture = _obj(
        {
            "variable": {"type": "string", "pattern": "^[a-z][a-z0-9_]*$"},
            "kind": {"enum": list(CAPTURE_KINDS)},
            "then": ID,
            "lead_ins": {**phrases, "description": "kind name: words dropped from the front"},
        },
        loader.CAPTURE_KEYS,
        loader.CAPTURE_REQUIRED,
    )
    free_text = _obj(
        {
            "routes": {"type": "array", "items": route},
            "grief": grief,
            "capture": capture,
            "fallback": ID,
        },
        loader.FREE_TEXT_KEYS,
        ("fallback",),
    )
    node = _obj(
        {
            "note": TEXT,
            "messages": {"anyOf": [message, {"type": "array", "items": message, "minItems": 1}]},
            "options": {"type": "array", "items": option},
            "free_text": free_text,
            "set": VARIABLES,
            "milestone": {"type": "string", "description": "counted anonymously in /stats"},
        },
        loader.NODE_KEYS,
        ("messages",),
    )
    signpost = _obj(
        {
            "text": TEXT,
            "region": {"type": "string", "description": "uk, us, au ... or any"},
            "needs": {"type": "array", "items": {"type": "string"}},
            "source": {"type": "string", "description": "where the details were checked"},
            "checked": {"type": "string", "format": "date", "description": "YYYY-MM-DD"},
        },
        loader.SIGNPOST_KEYS,
        ("text", "source", "checked"),
    )
    settings = _obj(
        {
            "default_language": {"type": "string"},
            "languages": {"type": "array", "items": {"type": "string"}},
            "default_region": {"type": "string"},
            "variables": VARIABLES,
            "readability_limit": {"type": "integer", "minimum": 1},
            "label_limit": {"type": "integer", "minimum": 1},
            "kept_on_restart": {"type": "array", "items": {"type": "string"}},
            "privacy_version": {
                "type": ["string", "number"],
                "description": "bump when the privacy text changes materially",
            },
            "translations": {
                "type": "object",
                "description": "who reviewed each language, and when (docs/translating.md)",
                "additionalProperties": {
                    "anyOf": [
                        {"type": "null"},
                        {
                            "type": "object",
                            "additionalProperties": False,
                            "properties": {
                                key: (
                                    {"type": ["string", "null"], "format": "date"}
                                    if key.endswith("_on")
                                    else {"type": ["string", "null"]}
                                )
                                for key in REVIEW_KEYS
                            },
                        },
                    ]
                },
            },
        },
        loader.SETTINGS_KEYS,
    )
    entry = _obj(
        {name: ID for name in ENTRY_POINTS + OPTIONAL_ENTRY_POINTS},
        ENTRY_POINTS + OPTIONAL_ENTRY_POINTS,
        ENTRY_POINTS,
    )
    system = _obj({key: TEXT for key in DEFAULT_SYSTEM_MESSAGES}, tuple(DEFAULT_SYSTEM_MESSAGES))
    top = _obj(
        {
            "nodes": {"type": "object", "propertyNames": ID, "additionalProperties": node},
            "signposts": {"type": "object", "propertyNames": ID, "additionalProperties": signpost},
            "entry_points": entry,
            "settings": settings,
            "system_messages": system,
            "reminders": _obj({kind: ID for kind in REMINDER_KINDS}, REMINDER_KINDS),
        },
        loader.FILE_KEYS,
    )
    return {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "$id": "https://github.com/babyloss-bot/babyloss-bot/dialogues/schema.json",
        "title": "babyloss-bot dialogue file",
        "description": "See docs/dialogue-format.md. `babyloss-bot validate` checks much more.",
        **top,
    }


def schema_json() -> str:
    return json.dumps(build_schema(), indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":  # pragma: no cover
    print(schema_json(), end="")
