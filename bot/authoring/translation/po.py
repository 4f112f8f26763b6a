"""gettext PO files: one per dialogue file, out to translators and back into the YAML.

``export_language`` writes ``translations/<lang>/<file>.po`` for each dialogue file: the
English as ``msgid``, a stable name for the text as ``msgctxt``, the node id and file:line
as the reference, and notes for translators as extracted comments. ``import_po`` writes
the translations back into the YAML (through ``yaml_edit``), recording with each the
fingerprint of the English it was made from, so a later change to the English makes it
fuzzy and parents see the English until a translator has reviewed it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import polib
import yaml

from bot.authoring.translation import yaml_edit
from bot.authoring.translation.spots import Spot, find_spots
from bot.dialogue.fingerprint import FUZZY, source_hash
from bot.dialogue.model import DEFAULT_SYSTEM_MESSAGES
from bot.dialogue.templating import placeholders

DIALOGUE_FILE_HEADER = "X-Dialogue-File"  # which YAML file a PO file belongs to
SKIP_DIRS = ("tests", "safety", "translations")
CRISIS_NODES = ("crisis", "safety_check")
LABEL_LIMIT = 40
READABILITY_LIMIT = 600


class TranslationError(Exception):
    """A problem phrased for the translator (file, what, how to fix)."""


def _spots(path: Path, text: str):
    try:
        return find_spots(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise TranslationError(
            f"{where}: this file is not valid YAML, so its texts cannot be found. Fix it "
            f"first: babyloss-bot validate {path.parent}"
        ) from None


def dialogue_files(folder: Path) -> list[Path]:
    return sorted(
        p
        for p in folder.rglob("*.y*ml")
        if p.is_file() and not any(part in SKIP_DIRS for part in p.relative_to(folder).parts[:-1])
    )


def po_path(folder: Path, lang: str, yaml_file: Path) -> Path:
    return folder / "translations" / lang / yaml_file.relative_to(folder).with_suffix(".po")


def _is_crisis(spot: Spot, entry: dict[str, str], signposts: frozenset[str] = frozenset()) -> bool:
    crisis_nodes = {entry.get(name) for name in CRISIS_NODES} - {None}
    return (
        spot.node_id in crisis_nodes
        or spot.context.startswith("system:safety_check")
        or spot.context.removeprefix("signpost:") in signposts
    )


def _crisis_signposts(folder: Path) -> frozenset[str]:
    """The signposts the crisis reply and the safety question list."""
    from bot.dialogue.loader import load_dialogue_dir

    draft = load_dialogue_dir(folder).draft
    if draft is None:
        return frozenset()
    out: set[str] = set()
    for name in CRISIS_NODES:
        node = draft.nodes.get(draft.entry.get(name, ""))
        for message in node.messages if node else ():
            out.update(message.signposts)
    return frozenset(out)


def notes_for(spot: Spot, english: str, crisis: bool) -> str:
    """What a translator needs to know about this text, as PO extracted comments."""
    notes: list[str] = []
    if crisis:
        notes.append(
            "CRISIS: part of the crisis reply or the safety question. It is reviewed on its "
            "own, first. Keep every number exactly; where a service answers in your "
            "language, say so (docs/content-reference.md)."
        )
    if spot.node_id:
        notes.append(
            f"Node '{spot.node_id}'." + (" " + " ".join(spot.comments) if spot.comments else "")
        )
    elif spot.comments:
        notes.append(" ".join(spot.comments))
    if spot.kind == "button":
        notes.append(
            f"A button: keep it short (at most {LABEL_LIMIT} characters; the English has "
            f"{len(english)}). Plain text, no formatting."
        )
    elif spot.kind == "note":
        notes.append("A content note, shown before the node's messages.")
    elif spot.kind == "signpost":
        notes.append(
            "A support organisation. Keep numbers, hours and links exactly as they are, "
            "unless the organisation has a line in your language (see "
            "docs/content-reference.md); if not, say plainly that it answers in English."
        )
    elif spot.kind == "system":
        notes.append("One of the bot's own short replies.")
    else:
        notes.append(
            f"A message. Telegram allows 4096 characters; the bot warns above "
            f"{READABILITY_LIMIT}. One idea per message, as in the English."
        )
    names = [name for name, _, _ in placeholders(english)]
    if names:
        shown = ", ".join(f"{{{n}}}" for n in dict.fromkeys(names))
        notes.append(
            f"Variables: {shown}. Keep the name before '|' exactly as it is; the words "
            "after '|' are shown when there is no value and may be translated."
        )
    if "<" in english:
        notes.append(
            "Formatting: keep the tags (<b>, <i>, <a href=...>) around the matching words."
        )
    return "\n".join(notes)


@dataclass
class ExportResult:
    path: Path
    total: int = 0
    translated: int = 0
    fuzzy: int = 0


def export_language(folder: Path, lang: str, out_dir: Path | None = None) -> list[ExportResult]:
    """Write one PO file per dialogue file; an existing PO file's translations that are
    not yet in the YAML are kept, and its English shown as the previous msgid."""
    files = dialogue_files(folder)
    texts = {p: p.read_text(encoding="utf-8") for p in files}
    found = {p: _spots(p, t) for p, t in texts.items()}
    entry: dict[str, str] = {}
    for _, file_entry in found.values():
        entry.update(file_entry)
    crisis_signposts = _crisis_signposts(folder)
    system_home = next((p for p, (_, e) in found.items() if e), files[0] if files else None)
    results = []
    for path in files:
        spots, _ = found[path]
        rel = path.relative_to(folder).as_posix()
        target = (
            po_path(folder, lang, path)
            if out_dir is None
            else out_dir / path.relative_to(folder).with_suffix(".po")
        )
        old = _read_existing(target)
        po = polib.POFile()
        po.metadata = {
            "Project-Id-Version": "babyloss-bot dialogues",
            "Language": lang,
            "MIME-Version": "1.0",
            "Content-Type": "text/plain; charset=UTF-8",
            "Content-Transfer-Encoding": "8bit",
            "X-Source-Language": "en",
            DIALOGUE_FILE_HEADER: rel,
        }
        result = ExportResult(target)
        seen = set()
        for spot in spots:
            english = spot.english
            if english is None:
                continue
            seen.add(spot.context)
            translation = spot.translation(lang)
            origin = spot.origin(lang)
            entry_po = polib.POEntry(
                msgctxt=spot.context,
                msgid=english,
                msgstr=translation or "",
                occurrences=[(rel, str(spot.line))],
                comment=notes_for(spot, english, _is_crisis(spot, entry, crisis_signposts)),
            )
            fuzzy = (
                translation is not None and origin is not None and origin != source_hash(english)
            )
            previous = old.get(spot.context)
            if translation is None and previous is not None and previous.msgstr:
                entry_po.msgstr = previous.msgstr
                fuzzy = previous.msgid != english or "fuzzy" in previous.flags
            if previous is not None and previous.msgid != english:
                entry_po.previous_msgid = previous.msgid
            if fuzzy:
                entry_po.flags.append("fuzzy")
            po.append(entry_po)
        if path == system_home:
            for key, english in DEFAULT_SYSTEM_MESSAGES.items():
                context = f"system:{key}"
                if context in seen:
                    continue
                spot = Spot(context, "system", 0, None, "value")  # type: ignore[arg-type]
                entry_po = polib.POEntry(
                    msgctxt=context,
                    msgid=english,
                    occurrences=[("bot/model.py", "")],
                    comment=notes_for(spot, english, _is_crisis(spot, entry))
                    + "\nBuilt in: importing a translation adds it to system_messages in "
                    + rel
                    + ".",
                )
                previous = old.get(context)
                if previous is not None and previous.msgstr:
                    entry_po.msgstr = previous.msgstr
                    if previous.msgid != english or "fuzzy" in previous.flags:
                        entry_po.flags.append("fuzzy")
                po.append(entry_po)
        result.total = len(po)
        result.translated = sum(1 for e in po if e.msgstr and "fuzzy" not in e.flags)
        result.fuzzy = sum(1 for e in po if "fuzzy" in e.flags)
        target.parent.mkdir(parents=True, exist_ok=True)
        po.save(str(target))
        results.append(result)
    return results


def _read_existing(path: Path) -> dict[str, polib.POEntry]:
    if not path.is_file():
        return {}
    try:
        return {e.msgctxt: e for e in polib.pofile(str(path)) if e.msgctxt}
    except (OSError, ValueError):
        return {}


@dataclass
class ImportResult:
    po: Path
    yaml: Path | None = None
    written: int = 0  # translations written or changed
    unchanged: int = 0
    fuzzy: int = 0  # written, but parents see the English until reviewed
    untranslated: int = 0
    skipped: list[str] = field(default_factory=list)  # texts no longer in the dialogue


def _place(po, by_context: dict[str, Spot], by_english: dict[str, list[Spot]]) -> dict:
    """Which text each PO entry belongs to. Its own name (msgctxt) first, when the English
    is still the same; then, for a text that moved (a message added above it), an unclaimed
    text with the same English; otherwise its name again, where it becomes fuzzy."""
    entries = [e for e in po if e.msgctxt and not e.obsolete]
    placed: dict[int, Spot] = {}
    taken: set[str] = set()
    for e in entries:
        spot = by_context.get(e.msgctxt)
        if spot is not None and spot.english == e.msgid:
            placed[id(e)] = spot
            taken.add(spot.context)
    for e in entries:
        if id(e) in placed:
            continue
        moved = [s for s in by_english.get(e.msgid, []) if s.context not in taken]
        if moved:
            placed[id(e)] = moved[0]
            taken.add(moved[0].context)
    for e in entries:
        spot = by_context.get(e.msgctxt)
        if id(e) not in placed and spot is not None and spot.context not in taken:
            placed[id(e)] = spot
            taken.add(spot.context)
    return placed


def import_po(po_file: Path, lang: str, folder: Path, *, write: bool = True) -> ImportResult:
    """Write the translations of one PO file into its dialogue file."""
    try:
        po = polib.pofile(str(po_file))
    except (OSError, ValueError) as exc:
        raise TranslationError(f"{po_file}: cannot read this PO file ({exc})") from None
    po_lang = po.metadata.get("Language", "")
    if po_lang and po_lang != lang:
        raise TranslationError(f"{po_file}: this file is for '{po_lang}', not '{lang}'")
    rel = po.metadata.get(DIALOGUE_FILE_HEADER)
    if not rel:
        raise TranslationError(
            f"{po_file}: no '{DIALOGUE_FILE_HEADER}' header, so the dialogue file it belongs "
            "to is not known (export the language again with babyloss-bot translate export)"
        )
    yaml_file = folder / rel
    try:
        text = yaml_file.read_text(encoding="utf-8")
    except OSError as exc:
        raise TranslationError(f"{po_file}: cannot read {yaml_file} ({exc.strerror})") from None
    spots, _ = _spots(yaml_file, text)
    by_context = {s.context: s for s in spots}
    by_english: dict[str, list[Spot]] = {}
    for s in spots:
        by_english.setdefault(s.english or "", []).append(s)
    placed = _place(po, by_context, by_english)
    result = ImportResult(po_file, yaml_file)
    edits: list[yaml_edit.Edit] = []
    missing_system: list[tuple[str, str, str, str]] = []
    for e in po:
        if e.obsolete or not e.msgctxt:
            continue
        if not e.msgstr.strip():
            result.untranslated += 1
            continue
        fuzzy = "fuzzy" in e.flags
        origin = FUZZY if fuzzy else source_hash(e.msgid)
        spot = placed.get(id(e))
        if spot is None:
            key = e.msgctxt.removeprefix("system:")
            if e.msgctxt.startswith("system:") and key in DEFAULT_SYSTEM_MESSAGES:
                english = DEFAULT_SYSTEM_MESSAGES[key]
                if english != e.msgid:
                    origin = FUZZY
                missing_system.append((key, english, e.msgstr, origin))
                result.written += 1
                result.fuzzy += origin == FUZZY
            else:
                result.skipped.append(e.msgctxt)
            continue
        english = spot.english
        stale = fuzzy or english != e.msgid
        if spot.translation(lang) == e.msgstr and spot.origin(lang) == origin:
            result.unchanged += 1
            result.fuzzy += stale
            continue
        edits += yaml_edit.plan(text, spot, lang, e.msgstr, origin)
        result.written += 1
        result.fuzzy += stale
    try:
        if missing_system:
            edits.append(yaml_edit.plan_system_messages(text, lang, missing_system))
    except yaml_edit.EditError as exc:
        raise TranslationError(f"{yaml_file}: {exc}") from None
    if edits:
        try:
            new_text = yaml_edit.apply(text, edits)
            yaml_edit.verify(text, new_text)
        except yaml_edit.EditError as exc:
            raise TranslationError(f"{yaml_file}: {exc}") from None
        if write:
            yaml_file.write_text(new_text, encoding="utf-8")
    return result
