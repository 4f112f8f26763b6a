"""The ``babyloss-bot`` command: chat, validate, graph, test, safety, train, translate and run.

Each sub-command is a thin shell over the pure core; this module only parses arguments,
reads files and prints.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from bot.dialogue.loader import LoadResult, load_dialogue_dir
from bot.dialogue.problems import Problem

REPO_DIALOGUES = Path(__file__).resolve().parent.parent / "dialogues"


def default_dialogues_dir() -> Path:
    """./dialogues when run from a checkout, else the one shipped beside the package.

    For safety and train, which take texts as arguments; the authoring commands use
    ``dialogue_folder`` and never guess.
    """
    here = Path("dialogues")
    return here if here.is_dir() else REPO_DIALOGUES


def add_folder_argument(parser: argparse.ArgumentParser, what: str = "dialogue folder") -> None:
    """The one way every authoring command is told which dialogues to use."""
    parser.add_argument("folder", nargs="?", metavar="PATH", help=f"{what} (default: ./dialogues)")
    # The old spelling, still accepted so existing scripts keep working; not advertised.
    parser.add_argument("--dialogues", dest="old_folder", help=argparse.SUPPRESS)


def dialogue_folder(args: argparse.Namespace) -> Path | None:
    """PATH if given, else ./dialogues of the current folder; None (and a message) if none."""
    if args.folder and args.old_folder:
        print(
            f"Name the dialogue folder once: babyloss-bot {args.command} PATH",
            file=sys.stderr,
        )
        return None
    given = args.folder or args.old_folder
    if given:
        return Path(given)
    here = Path("dialogues")
    if here.is_dir():
        return here
    shipped = (
        f" (the shipped ones: babyloss-bot {args.command} {REPO_DIALOGUES})"
        if REPO_DIALOGUES.is_dir()
        else ""
    )
    print(
        f"There is no 'dialogues' folder in {Path.cwd()}. Name the dialogue folder: "
        f"babyloss-bot {args.command} PATH{shipped}",
        file=sys.stderr,
    )
    return None


def _print_problems(problems: list[Problem], out=None) -> None:
    for problem in problems:
        print(problem.format(), file=out or sys.stdout)  # looked up now: tests capture it


def _load_or_report(path: Path, lang: str | None = None) -> LoadResult:
    result = load_dialogue_dir(path, default_language=lang)
    if not result.ok:
        errors = [p for p in result.problems if p.is_error]
        _print_problems(errors, sys.stderr)
        print(
            f"\nThe dialogues in '{path}' have {len(errors)} error(s); fix them first "
            f"(babyloss-bot validate {path}).",
            file=sys.stderr,
        )
    return result


def cmd_validate(args: argparse.Namespace) -> int:
    path = dialogue_folder(args)
    if path is None:
        return 2
    print(f"Checking the dialogues in {path}")
    result = load_dialogue_dir(path)
    _print_problems(result.problems)
    errors = sum(p.is_error for p in result.problems)
    warnings = len(result.problems) - errors
    nodes = len(result.draft.nodes) if result.draft else 0
    if result.draft is not None:
        from bot.dialogue.review import language_summary

        for line in language_summary(result.draft, result.problems):
            print(line)
    print(f"{path}: {errors} error(s), {warnings} warning(s), {nodes} node(s).")
    if errors:
        return 1
    if warnings and args.strict:
        print("Failing because of --strict: warnings count as errors.")
        return 1
    return 0


def cmd_chat(args: argparse.Namespace) -> int:
    from bot.authoring.simulator import run_chat

    path = dialogue_folder(args)
    if path is None:
        return 2
    result = _load_or_report(path, args.lang)
    if not result.ok:
        return 1
    dialogue = result.dialogue
    if args.start_node and args.start_node not in dialogue.nodes:
        from bot.dialogue.problems import did_you_mean

        print(
            f"There is no node '{args.start_node}'.{did_you_mean(args.start_node, dialogue.nodes)}",
            file=sys.stderr,
        )
        return 2
    if args.lang and args.lang not in dialogue.settings.languages:
        print(
            f"Language '{args.lang}' is not one of {', '.join(dialogue.settings.languages)}.",
            file=sys.stderr,
        )
        return 2
    print(f"Playing the dialogues in {path} ({len(dialogue.nodes)} nodes).")
    if args.lang:
        from bot.dialogue.review import refusal

        why = refusal(dialogue, args.lang)
        if why:  # volunteers may play a draft; parents never see one
            print(f"Note: '{args.lang}' is a draft: {why}. run would not offer it.\n")
    return run_chat(
        dialogue, start_node=args.start_node, language=args.lang, first_name=args.name or ""
    )


def cmd_graph(args: argparse.Namespace) -> int:
    from bot.authoring.graph import to_dot, to_mermaid

    path = dialogue_folder(args)
    if path is None:
        return 2
    # stderr: stdout may be the diagram itself, piped into a file
    print(f"Drawing the dialogues in {path}", file=sys.stderr)
    result = load_dialogue_dir(path)
    if result.draft is None or not result.draft.nodes:
        _print_problems(result.problems, sys.stderr)
        return 1
    text = to_mermaid(result.draft) if args.format == "mermaid" else to_dot(result.draft)
    if args.output and Path(args.output).suffix.lower() in (".md", ".markdown"):
        # A fenced block is what GitHub and GitLab render as a picture.
        text = f"```{args.format}\n{text.rstrip()}\n```\n"
    if args.output:
        try:
            Path(args.output).write_text(text, encoding="utf-8")
        except OSError as exc:
            print(f"Could not write '{args.output}': {exc.strerror}", file=sys.stderr)
            return 1
        print(f"Wrote {args.format} diagram of {len(result.draft.nodes)} nodes to {args.output}.")
    else:
        sys.stdout.write(text)
    if not result.ok:
        print(
            "Note: the dialogues have errors; the diagram marks what it can "
            f"(babyloss-bot validate {path}).",
            file=sys.stderr,
        )
    return 0


def cmd_test(args: argparse.Namespace) -> int:
    from bot.authoring.convtests import find_test_files, run_files

    dialogues = dialogue_folder(args)
    if dialogues is None:
        return 2
    if dialogues.is_file():
        folder = dialogues.parent.parent if dialogues.parent.name == "tests" else dialogues.parent
        print(
            f"'{dialogues}' is a file; give the dialogue folder, and the test file with "
            f"--file: babyloss-bot test {folder} --file {dialogues}",
            file=sys.stderr,
        )
        return 2
    targets = [Path(f) for f in args.files] if args.files else [dialogues / "tests"]
    print(f"Testing the dialogues in {dialogues} with " + ", ".join(str(t) for t in targets))
    result = _load_or_report(dialogues)
    if not result.ok:
        return 1
    files = [f for target in targets for f in find_test_files(target)]
    if not files:
        print(
            f"No conversation test files found in {', '.join(str(t) for t in targets)}.",
            file=sys.stderr,
        )
        return 1
    passed, failures, problems = run_files(result.dialogue, files)
    _print_problems(problems)
    for failure in failures:
        print(failure.format())
    print(f"{passed} passed, {len(failures)} failed")
    return 1 if failures or problems else 0


def cmd_safety(args: argparse.Namespace) -> int:
    from bot.safety import load_risk_phrases

    path = Path(args.dialogues) if args.dialogues else default_dialogues_dir()
    matcher, problems = load_risk_phrases(path)
    _print_problems(problems, sys.stderr)
    if matcher is None:
        return 1
    if args.measure:
        return _measure(matcher, Path(args.measure), args.show)
    from bot.safety import CRISIS, assess
    from bot.safety.languages import load_language_phrases

    languages, more = load_language_phrases(path)  # safety/risk-phrases.<lang>.yaml
    _print_problems(more, sys.stderr)
    texts = args.text or [line.rstrip("\n") for line in sys.stdin]
    fired_any = False
    for text in texts:
        level = assess(text, matcher)
        why = "; ".join(matcher.matches(text))
        other = [f"{lang}: {p}" for lang, m in languages.items() for p in m.matches(text)]
        if other:  # another language's phrase list: the crisis reply, whatever the English
            why = "; ".join(([why] if level == CRISIS and why else []) + other)
            level = CRISIS
        fired_any |= level is not None
        if level == CRISIS:
            verdict = f"CRISIS REPLY  (matched: {why})"
        elif level:
            verdict = f"ASK FIRST: 'are you having thoughts of ending your life?'  ({why})"
        else:
            verdict = "no match"
        print(f"{text!r}: {verdict}")
        for line in matcher.explain(text):  # the phrase, the score's parts, nearest examples
            print(f"    {line}")
    return 0 if fired_any or not texts else 3


def _measure(matcher, corpus: Path, show: bool) -> int:
    """Recall and false alarms on a labelled file (risk / not_risk / unsure lists)."""
    from bot.safety import ASK, CRISIS, assess
    from bot.safety.train import read_examples

    if not corpus.is_file():
        print(f"No such file: {corpus}", file=sys.stderr)
        return 1
    examples, problems = read_examples([corpus])
    if problems:
        _print_problems(problems, sys.stderr)
        return 1
    levels = {e.text: assess(e.text, matcher) for e in examples}
    fired = {t: level == CRISIS for t, level in levels.items()}
    rows = [("risk", 1, "recall (crisis reply sent)"), ("not_risk", 0, "false alarms")]
    for name, label, what in rows:
        group = [e.text for e in examples if e.label == label]
        if group:
            hits = sum(fired[t] for t in group)
            print(f"{name}: {what} {hits / len(group):.3f} ({hits}/{len(group)})")
    unsure = [e.text for e in examples if e.label is None]
    if unsure:
        hits = sum(fired[t] for t in unsure)
        print(f"unsure: crisis reply sent {hits}/{len(unsure)}")
    for name, label in (("risk", 1), ("not_risk", 0), ("unsure", None)):
        group = [e.text for e in examples if e.label == label]
        if group:
            asked = sum(levels[t] == ASK for t in group)
            print(f"{name}: asked directly first {asked}/{len(group)}")
    if show:
        for e in examples:
            if e.label == 1 and not fired[e.text]:
                print(f"  {'asked' if levels[e.text] else 'missed'}: {e.text}")
            elif e.label == 0 and levels[e.text]:
                kind = "false alarm" if fired[e.text] else "asked"
                print(f"  {kind}: {e.text}  <- {'; '.join(matcher.matches(e.text))}")
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from bot.safety import MODEL_FILE, parse_risk_phrases
    from bot.safety.train import TRAINING_DIR, train

    path = Path(args.dialogues) if args.dialogues else default_dialogues_dir()
    phrases = path / "safety" / "risk-phrases.yaml"
    try:
        matcher, problems = parse_risk_phrases(phrases.read_bytes(), str(phrases))
    except OSError:
        print(f"No safety phrase list at {phrases}", file=sys.stderr)
        return 1
    if matcher is None:
        _print_problems(problems, sys.stderr)
        return 1
    try:
        import sklearn  # noqa: F401
    except ImportError:
        print(
            'Training needs scikit-learn, which the bot itself does not: pip install -e ".[train]"',
            file=sys.stderr,
        )
        return 2
    print(f"Training on the examples in {path / TRAINING_DIR} (each file held out in turn)...")
    model, figures, problems = train(path, matcher)
    if model is None:
        _print_problems(problems, sys.stderr)
        return 1
    (path / MODEL_FILE).write_text(model.to_json(figures) + "\n", encoding="utf-8")
    held, target = figures["held_out_by_writer"], figures["targets"]

    def row(what: str, key: str, at_least: bool) -> str:
        value, goal = held[key], target[key]
        met = value >= goal if at_least else value <= goal
        sign = ">=" if at_least else "<="
        return f"  {what:44} {value:6.1%}   target {sign} {goal:.0%}  {'met' if met else 'NOT met'}"

    print(
        f"{figures['risk_examples']} risk and {figures['other_examples']} other examples "
        f"from {len(figures['writers'])} files; crisis reply from a score of "
        f"{model.threshold:.3f}, ask first from {model.ask_threshold:.3f}, a phrase match "
        f"needs {model.phrase_gate:.3f}.\n"
        "On each file when held out (phrases, linear model and nearest examples together):"
    )
    print(row("risk messages: crisis reply or asked", "reached_recall", True))
    print(row("risk messages: crisis reply", "crisis_recall", True))
    print(row("ordinary messages: crisis reply", "crisis_false_alarms", False))
    print(row("ordinary messages: asked", "others_asked", False))
    print("Each file held out (risk: crisis reply, or asked; ordinary: crisis reply, asked):")
    for name, f in figures["by_writer"].items():
        print(
            f"  {name:42} {f['crisis_recall']:6.1%} {f['reached_recall']:6.1%}   "
            f"{f['crisis_false_alarms']:5.1%} {f['others_asked']:5.1%}"
        )
    print(f"Wrote {path / MODEL_FILE}")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from bot.service.run import main_run  # imported here: the other commands need no Telegram

    if args.online and not args.check:
        print("--online goes with --check: babyloss-bot run --config FILE --check --online")
        return 2
    return main_run(args.config, args.check, online=args.online)


def _no_database_yet(config) -> str | None:
    """What stats and backup say before the bot's first start, naming the path they used."""
    if config.storage_path.exists():
        return None
    where = (
        f"storage.path in {config.source}"
        if config.source != "(no config file)"
        else "the default storage.path: no --config FILE was given"
    )
    hint = "" if config.source != "(no config file)" else "; or give its config with --config FILE"
    return (
        f"no database yet at {os.path.abspath(config.storage_path)} ({where}): has the bot "
        f"run? It creates the database when it first starts{hint}."
    )


def cmd_backup(args: argparse.Namespace) -> int:
    from bot.service.config import ConfigError, load_config
    from bot.storage.database import StorageError, backup

    try:
        config = load_config(args.config)
        if missing := _no_database_yet(config):
            print(f"Backup failed: {missing}", file=sys.stderr)
            return 1
        pages = backup(config.storage_path, args.destination)
    except (ConfigError, StorageError) as exc:
        print(f"Backup failed: {exc}", file=sys.stderr)
        return 1
    print(
        f"Backed up {config.storage_path} to {args.destination} ({pages} pages, "
        "integrity check ok)."
    )
    return 0


def cmd_stats(args: argparse.Namespace) -> int:
    from bot.service.config import ConfigError, load_config
    from bot.storage.database import StorageError
    from bot.storage.stats import database_stats, format_stats

    try:
        config = load_config(args.config)
        if missing := _no_database_yet(config):
            print(f"Cannot read the figures: {missing}", file=sys.stderr)
            return 1
        stats = database_stats(config.storage_path)
    except (ConfigError, StorageError) as exc:
        print(f"Cannot read the figures: {exc}", file=sys.stderr)
        return 1
    result = load_dialogue_dir(config.dialogues_path)
    print(format_stats(stats, result.dialogue))
    return 0


def cmd_studio(args: argparse.Namespace) -> int:
    from bot.studio.serve import run_local

    path = Path(args.path) if args.path else default_dialogues_dir()
    return run_local(path, args.port, open_browser=not args.no_browser)


def cmd_studio_user(args: argparse.Namespace) -> int:
    from bot.studio.cli import studio_user

    return studio_user(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="babyloss-bot",
        description="A gentle Telegram companion for parents after baby loss.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("chat", help="play the dialogues in this terminal (no token needed)")
    p.add_argument("--from", dest="start_node", metavar="NODE", help="start at this node")
    p.add_argument("--lang", help="language code, e.g. en")
    p.add_argument("--name", help="first name to use for {first_name}")
    add_folder_argument(p)
    p.set_defaults(func=cmd_chat)

    p = sub.add_parser("validate", help="check dialogue files and explain any problems")
    add_folder_argument(p, "dialogue folder or file")
    p.add_argument("--strict", action="store_true", help="fail on warnings too")
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("graph", help="draw the flow as a Mermaid or DOT diagram")
    p.add_argument("--format", choices=("mermaid", "dot"), default="mermaid")
    p.add_argument("-o", "--output", metavar="FILE", help="write here instead of printing")
    add_folder_argument(p)
    p.set_defaults(func=cmd_graph)

    p = sub.add_parser("test", help="run the conversation tests in PATH/tests/")
    add_folder_argument(p)
    p.add_argument(
        "--file",
        dest="files",
        action="append",
        metavar="TEST",
        help="run only this test file or folder (may be repeated; default: PATH/tests)",
    )
    p.set_defaults(func=cmd_test)

    p = sub.add_parser("safety", help="show whether the safety net fires on some text")
    p.add_argument("text", nargs="*", help="texts to check (default: one per line on stdin)")
    p.add_argument("--dialogues", metavar="PATH")
    p.add_argument(
        "--measure",
        metavar="FILE",
        help="report recall and false alarms on a labelled file (risk/not_risk/unsure)",
    )
    p.add_argument("--show", action="store_true", help="with --measure, list misses and alarms")
    p.set_defaults(func=cmd_safety)

    p = sub.add_parser(
        "train", help="train the safety model from dialogues/safety/training/ (needs [train])"
    )
    p.add_argument("--dialogues", metavar="PATH")
    p.set_defaults(func=cmd_train)

    from bot.authoring.translation.command import add_parser as add_translate_parser

    add_translate_parser(sub, default_dialogues_dir)

    p = sub.add_parser("run", help="serve the dialogues on Telegram (needs a bot token)")
    p.add_argument("--config", metavar="FILE", help="configuration file (see config.example.yaml)")
    p.add_argument(
        "--check",
        action="store_true",
        help="validate the config, dialogues and database, then exit (Telegram not contacted)",
    )
    p.add_argument(
        "--online",
        action="store_true",
        help="with --check: also ask Telegram (getMe) whether it knows the token",
    )
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("studio", help="edit, play, draw and test the dialogues in a browser")
    p.add_argument("path", nargs="?", help="dialogue folder (default: dialogues/)")
    p.add_argument("--port", type=int, default=8090, help="port on 127.0.0.1 (0: any free one)")
    p.add_argument("--no-browser", action="store_true", help="do not open the browser")
    p.set_defaults(func=cmd_studio)

    p = sub.add_parser("studio-user", help="add, remove or list the studio's team accounts")
    p.add_argument("action", choices=("add", "remove", "list"))
    p.add_argument("name", nargs="?", help="account name (for add and remove)")
    p.add_argument("--config", metavar="FILE", help="configuration file naming studio.accounts")
    p.set_defaults(func=cmd_studio_user)

    p = sub.add_parser("stats", help="anonymous figures from the database (no ids, no words)")
    p.add_argument("--config", metavar="FILE", help="configuration file naming storage.path")
    p.set_defaults(func=cmd_stats)

    p = sub.add_parser("backup", help="copy the database safely, even while the bot runs")
    p.add_argument("destination", metavar="DEST", help="new file to write the copy to")
    p.add_argument("--config", metavar="FILE", help="configuration file naming storage.path")
    p.set_defaults(func=cmd_backup)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print()
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
