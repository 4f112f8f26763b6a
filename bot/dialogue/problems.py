"""Problems found in dialogue files: stable codes, severities and plain-English hints.

Every check in the loader and validator reports through :class:`Problem`, so the
volunteer always sees ``file:line:col: CODE message`` and a hint saying how to fix it.
The catalogue below is the single list of codes; ``docs/validator-codes.md`` mirrors it
and a test keeps the two in step.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass

ERROR = "error"
WARNING = "warning"


@dataclass(frozen=True)
class Code:
    code: str
    severity: str
    title: str
    hint: str


_CATALOGUE = [
    # Reading the files
    Code(
        "BL001",
        ERROR,
        "YAML syntax error",
        "Check the indentation and quotes on this line and the one before it. Text "
        "containing a colon followed by a space must be in quotes.",
    ),
    Code(
        "BL002",
        ERROR,
        "empty file",
        "Add some nodes to the file, or delete it if it is not needed.",
    ),
    Code(
        "BL003",
        ERROR,
        "not a text file",
        "Dialogue files must be plain text saved as UTF-8. Re-save it from a text editor, "
        "not a word processor.",
    ),
    Code(
        "BL004",
        ERROR,
        "tab character used for indentation",
        "YAML only allows spaces for indentation. Replace the tab with spaces "
        "(most editors have a 'convert indentation to spaces' command).",
    ),
    Code(
        "BL005",
        ERROR,
        "the same key appears twice in one mapping",
        "Remove one of them or rename it; otherwise one would silently replace the other.",
    ),
    Code(
        "BL006",
        ERROR,
        "wrong kind of value",
        "Look at the example in docs/dialogue-format.md for what this key expects.",
    ),
    Code(
        "BL007",
        ERROR,
        "unknown key",
        "Check the spelling. The keys each part accepts are listed in docs/dialogue-format.md.",
    ),
    Code(
        "BL008",
        ERROR,
        "required key missing",
        "Add the key; docs/dialogue-format.md shows a complete example.",
    ),
    Code(
        "BL009",
        ERROR,
        "no dialogue files found",
        "Point the command at the folder holding the dialogue .yaml files.",
    ),
    # The shape of the conversation
    Code(
        "BL010",
        ERROR,
        "duplicate node id",
        "Node ids must be unique across all files. Rename one of the two nodes and update "
        "the options that lead to it.",
    ),
    Code(
        "BL011",
        ERROR,
        "goes to a node that does not exist",
        "Fix the spelling of the target, or add a node with this id.",
    ),
    Code(
        "BL012",
        WARNING,
        "node cannot be reached from the start",
        "Add an option or route that leads here, or remove the node if it is no longer used.",
    ),
    Code(
        "BL013",
        ERROR,
        "dead end: no way onward and no way back to the menu",
        "Give the node at least one option (for example 'Back to the menu', to: menu).",
    ),
    Code(
        "BL014",
        ERROR,
        "entry points missing or wrong",
        "Exactly one file must have an 'entry_points:' section naming start, menu, pause, "
        "help and crisis nodes.",
    ),
    Code(
        "BL015",
        ERROR,
        "invalid node id",
        "Use lower-case letters, digits and underscores only, starting with a letter "
        "(for example: after_loss_partner).",
    ),
    Code(
        "BL016",
        ERROR,
        "duplicate signpost id",
        "Signpost ids must be unique across all files. Rename one of them.",
    ),
    Code(
        "BL017",
        ERROR,
        "unknown signpost",
        "Fix the spelling, or add the signpost under 'signposts:'.",
    ),
    Code(
        "BL018",
        ERROR,
        "options on the safety check",
        "Remove its options and free_text. The bot adds the two answers itself ('Yes, or "
        "I'm not sure' and 'No, I'm safe') and keeps the parent where they were.",
    ),
    # Telegram limits and readability
    Code(
        "BL020",
        ERROR,
        "message longer than Telegram allows (4096 characters)",
        "Split it into two or more messages in the node's 'messages' list.",
    ),
    Code(
        "BL021",
        WARNING,
        "long message",
        "Parents may be reading this on a phone late at night. Consider splitting it into "
        "shorter messages, one idea each.",
    ),
    Code(
        "BL022",
        WARNING,
        "button label too long to read on a phone",
        "Shorten the label; put the detail in the message above the buttons.",
    ),
    Code(
        "BL023",
        ERROR,
        "button data longer than Telegram's 64 bytes",
        "Shorten the node id; Telegram limits the hidden data behind each button.",
    ),
    Code("BL024", ERROR, "empty text", "Write the text, or remove the entry."),
    # Formatting
    Code(
        "BL030",
        ERROR,
        "formatting tag that Telegram does not allow",
        'Allowed tags: <b>, <i>, <u>, <s>, <a href="...">, <blockquote>, <code>. '
        "Write a literal < as &lt; and & as &amp;.",
    ),
    Code(
        "BL031",
        ERROR,
        "unbalanced formatting tags",
        "Every <b> needs a </b> (and so on), closed in the reverse order they were opened.",
    ),
    Code(
        "BL032",
        ERROR,
        "bad link or tag attribute",
        'Links are written <a href="https://example.org">words</a>; other tags take no attributes.',
    ),
    # Variables and languages
    Code(
        "BL040",
        ERROR,
        "template variable that nothing sets",
        "Set the variable with 'set:' on a node or option before this text, use a built-in "
        "one such as {first_name}, or give a default: {name|friend}.",
    ),
    Code(
        "BL041",
        WARNING,
        "condition on a variable that nothing sets",
        "Set the variable with 'set:' somewhere, or fix the spelling of its name.",
    ),
    Code(
        "BL042",
        WARNING,
        "a typed name used without a default",
        "Give it words for parents who haven't told you a name: {baby_name|your baby}. "
        "Choose words that read well for one baby or several.",
    ),
    Code(
        "BL050",
        WARNING,
        "translation missing",
        "Add the missing language, or parents using it will see the default language here.",
    ),
    Code(
        "BL051",
        ERROR,
        "language not declared",
        "Add the language to 'settings: languages:' in the entry points file, or fix the code.",
    ),
    Code(
        "BL052",
        WARNING,
        "translation out of date (fuzzy)",
        "The English changed since this was translated, so parents see the English. Export "
        "the language (babyloss-bot translate export), check the translation in the PO file, "
        "clear its 'fuzzy' mark and import it again.",
    ),
    Code(
        "BL053",
        WARNING,
        "translation's variables differ from the English",
        "Keep every {variable} of the English exactly as written, e.g. {first_name|...}; "
        "only the words after '|' may be translated.",
    ),
    Code(
        "BL054",
        WARNING,
        "incomplete review record",
        "Fill in both the name and the date (YYYY-MM-DD); a language's crisis reply and "
        "safety question are reviewed first, with crisis_reviewed_by and crisis_reviewed_on.",
    ),
    Code(
        "BL055",
        WARNING,
        "language without a safety phrase list",
        "Add safety/risk-phrases.LANG.yaml with the crisis words of that language (same "
        "format as risk-phrases.yaml) and have it reviewed; until then the safety net only "
        "understands English, and run will not offer the language.",
    ),
    # Signposts
    Code(
        "BL060",
        WARNING,
        "signpost not checked for more than 12 months",
        "Check the number and hours against the organisation's own website and update "
        "'checked:' with today's date.",
    ),
    Code("BL061", ERROR, "bad date", "Write dates as YYYY-MM-DD, for example 2026-11-25."),
    # Safety phrase lists
    Code(
        "BL070",
        ERROR,
        "bad safety phrase list",
        "Each list entry is a phrase in plain words; see dialogues/safety/README.md.",
    ),
    Code(
        "BL071",
        ERROR,
        "safety model damaged",
        "Train it again with 'babyloss-bot train' (see dialogues/safety/README.md), or "
        "restore risk-model.json from git.",
    ),
    Code(
        "BL072",
        WARNING,
        "safety model older than its training examples",
        "The examples in safety/training/ changed since the model was trained: run "
        "'babyloss-bot train' and commit the new risk-model.json.",
    ),
    Code(
        "BL073",
        ERROR,
        "bad safety training file",
        "A training file has three lists of quoted messages: risk, not_risk and unsure.",
    ),
    # Conversation tests
    Code(
        "BL080",
        ERROR,
        "bad conversation test",
        "See 'Conversation tests' in docs/dialogue-format.md for the shape of a test case.",
    ),
    Code(
        "BL081",
        ERROR,
        "conversation test refers to something that does not exist",
        "Fix the node id or button label in the test.",
    ),
]

CODES: dict[str, Code] = {c.code: c for c in _CATALOGUE}


@dataclass(frozen=True)
class Problem:
    """One thing wrong (or worth a look) in a file, with where it is."""

    code: str
    message: str
    file: str
    line: int = 0  # 1-based; 0 when the problem belongs to a whole file or folder
    col: int = 0
    hint: str | None = None  # overrides the catalogue hint when more specific

    @property
    def severity(self) -> str:
        return CODES[self.code].severity

    @property
    def is_error(self) -> bool:
        return self.severity == ERROR

    def location(self) -> str:
        if self.line:
            return f"{self.file}:{self.line}:{self.col or 1}"
        return self.file

    def format(self) -> str:
        hint = self.hint or CODES[self.code].hint
        return f"{self.location()}: {self.code} {self.severity}: {self.message}\n    hint: {hint}"

    def sort_key(self) -> tuple:
        return (self.file, self.line, self.col, self.code, self.message)


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """' Did you mean 'x'?' when a close match exists, else ''."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" Did you mean '{close[0]}'?" if close else ""


def has_errors(problems: Iterable[Problem]) -> bool:
    return any(p.is_error for p in problems)
