"""``babyloss-bot translate export|import``: the translator's loop, from the terminal."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bot.authoring.translation.po import TranslationError, export_language, import_po

# The command line's own default folder (./dialogues, or the one beside the package),
# handed in by add_parser so that this module does not import the command line back.
_DEFAULT_FOLDER = {"find": lambda: Path("dialogues")}


def _dialogues(value: str | None) -> Path:
    return Path(value) if value else _DEFAULT_FOLDER["find"]()


def cmd_export(args: argparse.Namespace) -> int:
    folder = _dialogues(args.path)
    if not folder.is_dir():
        print(f"'{folder}' is not a dialogue folder.", file=sys.stderr)
        return 2
    out = Path(args.output) if args.output else None
    try:
        results = export_language(folder, args.lang, out)
    except TranslationError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    except (OSError, ValueError) as exc:
        print(f"Export failed: {exc}", file=sys.stderr)
        return 1
    for r in results:
        todo = r.total - r.translated - r.fuzzy
        print(
            f"{r.path}: {r.total} texts, {r.translated} translated, {r.fuzzy} fuzzy, "
            f"{todo} to translate"
        )
    return 0


def _folder_for(po: Path, lang: str, given: str | None) -> Path:
    if given:
        return Path(given)
    # translations/<lang>/<file>.po sits inside the dialogue folder it belongs to.
    parts = po.resolve().parts
    for i in range(len(parts) - 2, 0, -1):
        if parts[i] == "translations" and parts[i + 1] == lang:
            return Path(*parts[:i])
    return _dialogues(None)


def cmd_import(args: argparse.Namespace) -> int:
    failed = False
    for name in args.files:
        po = Path(name)
        folder = _folder_for(po, args.lang, args.dialogues)
        try:
            r = import_po(po, args.lang, folder, write=not args.dry_run)
        except TranslationError as exc:
            print(str(exc), file=sys.stderr)
            failed = True
            continue
        verb = "would write" if args.dry_run else "wrote"
        print(
            f"{po} -> {r.yaml}: {verb} {r.written}, {r.unchanged} unchanged, "
            f"{r.untranslated} untranslated; {r.fuzzy} fuzzy (parents see the English until "
            "a reviewer clears them)"
        )
        for context in r.skipped:
            print(f"  skipped {context}: no longer in the dialogue")
    if not failed and not args.dry_run:
        print("Now run: babyloss-bot validate --strict (BL052 lists the fuzzy ones).")
    return 1 if failed else 0


def add_parser(sub, default_folder=None) -> None:
    if default_folder is not None:
        _DEFAULT_FOLDER["find"] = default_folder
    p = sub.add_parser("translate", help="export PO files for translators, import them back")
    tsub = p.add_subparsers(dest="translate_command", metavar="export|import", required=True)
    e = tsub.add_parser("export", help="write translations/LANG/<file>.po for each dialogue file")
    e.add_argument("lang", metavar="LANG", help="language code, e.g. cy or es")
    e.add_argument("path", nargs="?", metavar="PATH", help="dialogue folder (default: dialogues/)")
    e.add_argument(
        "-o", "--output", metavar="DIR", help="write here instead of PATH/translations/LANG"
    )
    e.set_defaults(func=cmd_export)
    i = tsub.add_parser("import", help="write the translations of PO files into the YAML")
    i.add_argument("lang", metavar="LANG")
    i.add_argument("files", nargs="+", metavar="FILE", help="PO files")
    i.add_argument("--dialogues", metavar="PATH", help="dialogue folder (default: found from FILE)")
    i.add_argument("--dry-run", action="store_true", help="check and count, write nothing")
    i.set_defaults(func=cmd_import)
