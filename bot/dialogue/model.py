"""The loaded dialogue: plain, immutable data the engine walks and the validator inspects.

Nothing here reads files or knows about Telegram. Texts are kept per language
(``ANY`` for text written without a language) so the engine can pick a translation.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from types import MappingProxyType

ANY = "*"  # key of a text written as a plain string, valid for every language

Pos = tuple[int, int]

# Variables the adapters provide at run time; dialogue authors may use them in text.
BUILTIN_VARIABLES = frozenset({"first_name", "region", "language"})

ENTRY_POINTS = ("start", "menu", "pause", "help", "crisis")
# /privacy; asking again for consent; the question the safety net asks when it is unsure.
OPTIONAL_ENTRY_POINTS = ("privacy", "consent", "safety_check")
# Reminders a parent can ask for; the dialogue's `reminders:` names the node each one shows.
REMINDER_KINDS = ("wave_of_light", "awareness_week", "check_in", "anniversary")
CAPTURE_KINDS = ("date", "name")
# What a route does when the message also reads as grief (see FreeText.grief).
ROUTE_GRIEF = ("reflect", "follow")

# Built-in replies, used when the dialogue's `system_messages:` does not override them.
DEFAULT_SYSTEM_MESSAGES = {
    "use_buttons": "I can only follow the buttons here. Please choose one below, "
    "or send /menu for the main menu.",
    "moved_on": "That button is from earlier in our conversation, which has moved on. "
    "Here is where we are now.",
    "node_gone": "This part of the conversation has changed since we last spoke, so "
    "I've taken you back to the menu.",
    "unknown_command": "I don't know that command. Send /menu for the main menu or "
    "/support for help numbers.",
    "nothing_to_go_back_to": "There is nothing earlier to go back to.",
    "choose": "Please choose:",
    "language_set": "Language changed.",
    "language_unknown": "Sorry, that language is not available.",
    "non_text": "Thank you for sending that. I'm an automated companion, so I can only read "
    "typed words and button presses. Here is where we were:",
    "private_only": "I'm an automated companion for parents after baby loss, and I only talk "
    "in private chats. Please send me a direct message.",
    "nothing_stored": "I'm not keeping anything about you. You haven't asked me to remember "
    "you, so our conversation is only held in memory for a short while, then forgotten.",
    "forgotten": "Done: I've deleted everything I kept about you. Send /start whenever you "
    "want to talk again.",
    "welcome_back": "Welcome back. Would you like to carry on where you left off, or start afresh?",
    "resume_label": "Carry on where I left off",
    "fresh_label": "Start afresh",
    "forget_confirm": "Shall I delete everything I keep about you? This cannot be undone.",
    "forget_yes_label": "Yes, delete it all",
    "forget_no_label": "No, keep it",
    "kept": "All right, nothing has been deleted.",
    "chat_messages": "The messages in this chat are yours: you can delete them in Telegram "
    "at any time. I can delete the ones from the last 48 hours for you (Telegram does not "
    "let bots delete older ones).",
    "wipe_label": "Delete recent messages",
    "wiped": "Done.",
    "mydata_caption": "This file holds everything I keep about you. Send /forget to delete it all.",
    "slow_down": "I'm getting a lot of messages at once, so I'll pause for a moment. Take "
    "your time: I'm still here.",
    "stop_reminders_label": "Stop these reminders",
    "reminders_stopped": "Done: I won't send you these reminders any more.",
    "safety_check": "Thank you for telling me. I'm an automated guide, and I'd like to ask "
    "you something directly, because it matters: are you having thoughts of ending your "
    "life, or of hurting yourself?",
    "safety_check_yes_label": "Yes, or I'm not sure",
    "safety_check_no_label": "No, I'm safe",
    "held_in_memory": "For this conversation only, I'm holding in memory the name you told "
    "me: {name}. Send /forget to delete it now.",
    "safety_check_thanks": "Thank you for letting me know. If that changes, /support and "
    'the "I need help now" button are always here. We can carry on whenever you\'re ready.',
}


def freeze(mapping: dict | None = None) -> MappingProxyType:
    return MappingProxyType(dict(mapping or {}))


@dataclass(frozen=True)
class Text:
    """A text in one or more languages: {"en": "...", "cy": "..."} or {ANY: "..."}."""

    variants: MappingProxyType
    pos: Pos = (0, 0)
    # Translations made from older English (see bot.dialogue.fingerprint): kept for
    # the translators, but parents see the default language until one is reviewed.
    fuzzy: frozenset = frozenset()

    def pick(self, lang: str, default_lang: str) -> str:
        v = self.variants
        for candidate in (lang, default_lang):
            if candidate in v and candidate not in self.fuzzy:
                return v[candidate]
        if ANY in v:
            return v[ANY]
        return next((t for code, t in v.items() if code not in self.fuzzy), "")

    @classmethod
    def plain(cls, text: str) -> Text:
        return cls(freeze({ANY: text}))


@dataclass(frozen=True)
class Condition:
    """`if:` / `unless:` on a variable: all listed variables must have one of the values."""

    required: MappingProxyType  # name -> tuple of accepted string values
    negate: bool = False
    pos: Pos = (0, 0)

    def holds(self, variables: dict | MappingProxyType) -> bool:
        ok = all(str(variables.get(name, "")) in values for name, values in self.required.items())
        return ok != self.negate


def conditions_hold(conds: tuple[Condition, ...], variables) -> bool:
    return all(c.holds(variables) for c in conds)


@dataclass(frozen=True)
class Message:
    text: Text | None = None
    signposts: tuple[str, ...] = ()
    conditions: tuple[Condition, ...] = ()
    pos: Pos = (0, 0)


@dataclass(frozen=True)
class Option:
    label: Text
    to: str
    set: MappingProxyType = field(default_factory=freeze)
    conditions: tuple[Condition, ...] = ()
    pos: Pos = (0, 0)
    to_pos: Pos = (0, 0)


@dataclass(frozen=True)
class Route:
    match: tuple[str, ...]
    to: str
    set: MappingProxyType = field(default_factory=freeze)
    pos: Pos = (0, 0)
    to_pos: Pos = (0, 0)
    # Phrases that stop this route applying ("need help" but not "paying for the funeral").
    not_with: tuple[str, ...] = ()
    # "reflect": a message that also reads as grief gets the free_text's grief reply
    # instead; "follow": the route is itself about grief or urgent help, so always follow.
    grief: str = "reflect"


@dataclass(frozen=True)
class Grief:
    """Words that read as someone's own grief, and the gentle reply that reflects it."""

    match: tuple[str, ...]
    to: str
    to_pos: Pos = (0, 0)


@dataclass(frozen=True)
class Capture:
    """Keep one thing from typed words: only what was understood (e.g. a date as MM-DD)."""

    variable: str
    kind: str  # "date" or "name"
    then: str  # where to go once understood; otherwise the free_text fallback
    then_pos: Pos = (0, 0)
    lead_ins: tuple[str, ...] = ()  # kind name: words dropped from the front ("her name was")


@dataclass(frozen=True)
class FreeText:
    routes: tuple[Route, ...]
    fallback: str
    fallback_pos: Pos = (0, 0)
    capture: Capture | None = None
    grief: Grief | None = None


@dataclass(frozen=True)
class Node:
    id: str
    file: str
    pos: Pos
    messages: tuple[Message, ...]
    note: Text | None = None
    options: tuple[Option, ...] = ()
    free_text: FreeText | None = None
    set: MappingProxyType = field(default_factory=freeze)
    milestone: str | None = None  # an anonymous count of parents reaching this point

    def targets(self) -> list[tuple[str, Pos]]:
        out = [(o.to, o.to_pos) for o in self.options]
        if self.free_text:
            out += [(r.to, r.to_pos) for r in self.free_text.routes]
            out.append((self.free_text.fallback, self.free_text.fallback_pos))
            if self.free_text.capture:
                out.append((self.free_text.capture.then, self.free_text.capture.then_pos))
            if self.free_text.grief:
                out.append((self.free_text.grief.to, self.free_text.grief.to_pos))
        return out


@dataclass(frozen=True)
class Signpost:
    id: str
    file: str
    pos: Pos
    text: Text
    region: str
    source: str
    checked: dt.date | None
    needs: tuple[str, ...] = ()


@dataclass(frozen=True)
class Review:
    """Who read a language's translation and when (``settings: translations:``). The
    crisis reply and safety question, and the language's safety phrase list, are
    reviewed on their own: nothing else in a language goes live before them."""

    reviewed_by: str = ""
    reviewed_on: dt.date | None = None
    crisis_reviewed_by: str = ""
    crisis_reviewed_on: dt.date | None = None
    phrases_reviewed_by: str = ""
    phrases_reviewed_on: dt.date | None = None

    @property
    def reviewed(self) -> bool:
        return bool(self.reviewed_by and self.reviewed_on)

    @property
    def crisis_reviewed(self) -> bool:
        return bool(self.crisis_reviewed_by and self.crisis_reviewed_on)

    @property
    def phrases_reviewed(self) -> bool:
        return bool(self.phrases_reviewed_by and self.phrases_reviewed_on)


@dataclass(frozen=True)
class Settings:
    default_language: str = "en"
    languages: tuple[str, ...] = ("en",)
    default_region: str = "uk"
    variables: MappingProxyType = field(default_factory=freeze)  # starting values
    readability_limit: int = 600
    label_limit: int = 40
    privacy_version: str = "1"  # bump when the privacy text changes materially: asks again
    translations: MappingProxyType = field(default_factory=freeze)  # language -> Review
    kept_on_restart: tuple[str, ...] = ()  # variables that /start does not forget


@dataclass(frozen=True)
class Dialogue:
    nodes: MappingProxyType  # id -> Node
    signposts: MappingProxyType  # id -> Signpost
    entry: MappingProxyType  # entry point name -> node id
    settings: Settings
    system_messages: MappingProxyType  # key -> Text
    version: str  # short hash of the files' bytes, for logs and /healthz
    risk_phrases: tuple = ()  # compiled safety patterns, see bot.safety
    reminders: MappingProxyType = field(default_factory=freeze)  # kind -> node id
    # The safety phrase list of each other language (bot.safety.languages), applied to
    # what parents using that language type, on top of the English net.
    language_phrases: MappingProxyType = field(default_factory=freeze)  # language -> matcher

    def name_variables(self) -> frozenset[str]:
        """Variables that hold words a parent typed (``capture: kind: name``)."""
        return frozenset(
            n.free_text.capture.variable
            for n in self.nodes.values()
            if n.free_text and n.free_text.capture and n.free_text.capture.kind == "name"
        )

    def system(self, key: str) -> Text:
        return self.system_messages.get(key) or Text.plain(DEFAULT_SYSTEM_MESSAGES[key])
