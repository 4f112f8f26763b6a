"""The translator's loop: PO export, edit with a PO library, import; fuzzy; review gates."""

from __future__ import annotations

import difflib
import re
import shutil
from pathlib import Path

import polib
import pytest

from bot.authoring.translation.po import export_language, import_po
from bot.cli import main
from bot.dialogue import engine
from bot.dialogue.engine import Command, Say
from bot.dialogue.fingerprint import source_hash
from bot.dialogue.loader import load_dialogue_dir
from bot.dialogue.model import ANY, DEFAULT_SYSTEM_MESSAGES
from bot.dialogue.review import gate_languages
from bot.service.config import ConfigError, parse_config
from tests.conftest import ROOT

EXAMPLE = ROOT / "docs" / "examples" / "first-dialogue"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    out = tmp_path / "dialogues"
    shutil.copytree(EXAMPLE, out)
    return out


def _texts(dialogue) -> dict:
    """Every text of a dialogue, by where it is, as {language: words}."""
    out = {}
    for node in dialogue.nodes.values():
        if node.note:
            out[(node.id, "note")] = dict(node.note.variants)
        for i, m in enumerate(node.messages):
            if m.text:
                out[(node.id, "m", i)] = dict(m.text.variants)
        for i, o in enumerate(node.options):
            out[(node.id, "o", i)] = (dict(o.label.variants), o.to, dict(o.set))
    for sp in dialogue.signposts.values():
        out[("sp", sp.id)] = dict(sp.text.variants)
    for key in DEFAULT_SYSTEM_MESSAGES:  # built in, or reworded in the YAML
        variants = dict(dialogue.system(key).variants)
        out[("sys", key)] = {"en": variants.pop(ANY, None) or variants.pop("en"), **variants}
    return out


def _without(texts: dict, lang: str) -> dict:
    def strip(v):
        if isinstance(v, dict):
            english = v.get("en", v.get(ANY))
            return {"en": english, **{k: x for k, x in v.items() if k not in (lang, "en", ANY)}}
        if isinstance(v, tuple):
            return tuple(strip(x) for x in v)
        return v

    return {k: strip(v) for k, v in texts.items()}


def _no_welsh(line: str) -> str:
    return re.sub(r',\s*cy(_from)?: "(?:[^"\\]|\\.)*"', "", line)


def _translate(po_path: Path, words: dict[str, str]) -> None:
    """What a translator's tool does: set msgstr by msgctxt and save."""
    po = polib.pofile(str(po_path))
    for entry in po:
        if entry.msgctxt in words:
            entry.msgstr = words[entry.msgctxt]
            if "fuzzy" in entry.flags:
                entry.flags.remove("fuzzy")
    po.save()


def test_round_trip_changes_only_the_translated_text(folder: Path) -> None:
    before_text = (folder / "main.yaml").read_text()
    before = load_dialogue_dir(folder).dialogue
    (result,) = export_language(folder, "cy")
    po = polib.pofile(str(result.path))
    contexts = {e.msgctxt: e for e in po}
    # Plain English, a button, an already-translated text, and a built-in system message.
    assert "node:welcome/message 1" in contexts
    assert contexts["node:welcome/message 1"].occurrences[0][0] == "main.yaml"
    assert "system:moved_on" in contexts
    hello = contexts["node:welcome/message 1"]
    assert "{first_name" in hello.msgid and "Variables" in hello.comment
    buttons = [e for e in po if e.msgctxt.startswith("node:welcome/button")]
    assert buttons and all("A button" in e.comment for e in buttons)

    words = {
        "node:welcome/message 1": "Helo {first_name|chi}. Wedi'i drosi.",
        buttons[0].msgctxt: "Botwm",
        "system:moved_on": "Mae'r sgwrs wedi symud ymlaen.",
    }
    _translate(result.path, words)
    hand_written = {e.msgctxt for e in po if e.msgstr}  # Welsh typed into the YAML by hand
    assert hand_written
    imported = import_po(result.path, "cy", folder)
    # The three new ones, and the hand-written ones gain the fingerprint of their English.
    assert imported.written == len(hand_written | set(words)) and imported.fuzzy == 0

    after_text = (folder / "main.yaml").read_text()
    after = load_dialogue_dir(folder).dialogue
    # Everything but the Welsh is as it was: English, targets, variables, other languages.
    assert _without(_texts(after), "cy") == _without(_texts(before), "cy")
    # Every comment line is still there, in order.
    comments = [line for line in before_text.splitlines() if line.lstrip().startswith("#")]
    assert [line for line in after_text.splitlines() if line.lstrip().startswith("#")] == comments
    # Every line removed from the file came back with the same English as `en:`.
    diff = list(difflib.ndiff(before_text.splitlines(), after_text.splitlines()))
    removed = [line[2:] for line in diff if line.startswith("- ")]
    added = [line[2:] for line in diff if line.startswith("+ ")]
    for line in removed:
        if line.strip().removeprefix("- ").startswith(("cy:", "cy_from:")):
            continue  # a Welsh text replaced by the new one
        if _no_welsh(line) in {_no_welsh(a) for a in added}:
            continue  # {en: ..., cy: ...} on one line: only the Welsh in it changed
        english = line.split(":", 1)[-1].strip() if "label:" in line else line.strip("- ").strip()
        assert any(english in a and "en:" in a for a in added), line
    for line in added:
        key = line.strip().removeprefix("- ").split(":", 1)[0]
        # system_messages: is new in this file (only built-in ones before), as is a blank
        # line before it.
        allowed = ("en", "cy", "cy_from", "label", "text", "moved_on", "system_messages", "")
        assert key in allowed, line
    # The Welsh is what parents using Welsh see.
    node = after.nodes["welcome"]
    assert node.messages[0].text.pick("cy", "en") == words["node:welcome/message 1"]
    assert after.system("moved_on").pick("cy", "en") == words["system:moved_on"]
    # Importing the same file again changes nothing at all.
    again = import_po(result.path, "cy", folder)
    assert again.written == 0 and again.unchanged >= 3
    assert (folder / "main.yaml").read_text() == after_text
    # And exporting again gives the translator the same file.
    export_language(folder, "cy")
    assert {e.msgctxt: e.msgstr for e in polib.pofile(str(result.path)) if e.msgstr} == {
        **{e.msgctxt: e.msgstr for e in po if e.msgstr},
        **words,
    }


def test_changed_english_makes_a_translation_fuzzy_until_reviewed(folder: Path) -> None:
    (result,) = export_language(folder, "cy")
    _translate(result.path, {"node:welcome/message 1": "Helo {first_name|chi}."})
    import_po(result.path, "cy", folder)
    main_yaml = folder / "main.yaml"
    text = main_yaml.read_text()
    old = load_dialogue_dir(folder).dialogue.nodes["welcome"].messages[0].text
    english = old.variants["en"]
    assert f'cy_from: "{source_hash(english)}"' in text
    # A writer changes the English.
    main_yaml.write_text(text.replace(english, english + " Welcome.", 1))
    loaded = load_dialogue_dir(folder)
    message = loaded.dialogue.nodes["welcome"].messages[0].text
    assert message.fuzzy == {"cy"}
    assert message.pick("cy", "en") == english + " Welcome."  # English until reviewed
    assert any(p.code == "BL052" for p in loaded.problems)
    # The next export shows it fuzzy, with the English it was translated from.
    export_language(folder, "cy")
    entry = next(e for e in polib.pofile(str(result.path)) if e.msgctxt == "node:welcome/message 1")
    assert "fuzzy" in entry.flags and entry.previous_msgid == english
    assert entry.msgstr == "Helo {first_name|chi}."
    # A PO entry still marked fuzzy is written, but still shows English.
    assert import_po(result.path, "cy", folder).fuzzy >= 1
    assert load_dialogue_dir(folder).dialogue.nodes["welcome"].messages[0].text.fuzzy == {"cy"}
    # The reviewer updates it and clears the mark: Welsh again.
    _translate(result.path, {"node:welcome/message 1": "Helo {first_name|chi}. Croeso."})
    import_po(result.path, "cy", folder)
    loaded = load_dialogue_dir(folder)
    message = loaded.dialogue.nodes["welcome"].messages[0].text
    assert message.fuzzy == frozenset()
    assert message.pick("cy", "en") == "Helo {first_name|chi}. Croeso."
    assert not any(p.code == "BL052" for p in loaded.problems)


def test_translate_commands(folder: Path, capsys) -> None:
    assert main(["translate", "export", "es", str(folder)]) == 0
    po = folder / "translations" / "es" / "main.po"
    assert po.is_file() and "to translate" in capsys.readouterr().out
    _translate(po, {"node:welcome/message 1": "Hola {first_name|}."})
    assert main(["translate", "import", "es", str(po), "--dry-run"]) == 0
    assert 'es: "Hola' not in (folder / "main.yaml").read_text()
    assert main(["translate", "import", "es", str(po)]) == 0
    assert 'es: "Hola {first_name|}."' in (folder / "main.yaml").read_text()
    # A PO file for another language is refused, with the reason.
    assert main(["translate", "import", "cy", str(po), "--dialogues", str(folder)]) == 1
    assert "is for 'es', not 'cy'" in capsys.readouterr().err


def test_an_unreviewed_language_is_refused_by_run_with_the_reason() -> None:
    dialogue = load_dialogue_dir(ROOT / "dialogues").dialogue
    assert {"cy", "es"} <= set(dialogue.settings.languages)
    gate = gate_languages(dialogue)
    assert gate.dialogue.settings.languages == ("en",)
    assert any("'cy' is refused" in n and "crisis reply" in n for n in gate.notes)
    # Listed as a preview language: offered, to admins only (the service checks who).
    preview = gate_languages(dialogue, ["cy"])
    assert preview.dialogue.settings.languages == ("en", "cy") and preview.preview == {"cy"}
    # A parent whose session still says Welsh sees English once Welsh is not offered.
    session = engine.new_session(gate.dialogue, "cy")
    result = engine.step(gate.dialogue, session, Command("menu"))
    assert (
        result.outputs[0].text
        == engine.step(gate.dialogue, engine.new_session(gate.dialogue), Command("menu"))
        .outputs[0]
        .text
    )
    # The default language must be reviewed, preview or not.
    bad = gate_languages(dialogue, ["xx"])
    assert bad.errors and "not one of the dialogues' languages" in bad.errors[0]


def test_config_preview_languages(tmp_path: Path) -> None:
    config = parse_config(
        b"dialogues:\n  path: " + str(ROOT / "dialogues").encode() + b"\n"
        b"  preview_languages: [cy]\n",
        str(tmp_path / "c.yaml"),
        env={},
    )
    assert config.preview_languages == ("cy",)
    result = config.load_dialogues()
    assert result.dialogue.settings.languages == ("en", "cy")
    assert any("'es' is refused" in n for n in result.language_notes)
    with pytest.raises(ConfigError, match="cannot be served"):
        parse_config(
            b"dialogues:\n  path: " + str(ROOT / "dialogues").encode() + b"\n"
            b"  default_language: cy\n  preview_languages: [cy]\n",
            "c.yaml",
            env={},
        ).load_dialogues()


@pytest.mark.parametrize(
    "lang, words",
    [
        ("cy", "Dw i ddim isio byw hebddi hi"),
        ("cy", "dw i eisiau marw"),
        ("es", "Ya no puedo más"),
        ("es", "me quiero morir"),
    ],
)
def test_the_crisis_words_of_each_language_get_the_crisis_reply(lang: str, words: str) -> None:
    dialogue = load_dialogue_dir(ROOT / "dialogues").dialogue
    session = engine.new_session(dialogue, lang)
    session = engine.step(dialogue, session, Command("menu")).session
    result = engine.step(dialogue, session, Say(words))
    assert "crisis" in result.events
    assert result.session.node == dialogue.entry["crisis"]


@pytest.mark.parametrize(
    "words", ["fy mabi wedi marw", "mi bebé murió", "Dw i'n teimlo'n wag", "Estoy muy triste"]
)
def test_ordinary_grief_in_each_language_is_not_a_crisis(words: str) -> None:
    dialogue = load_dialogue_dir(ROOT / "dialogues").dialogue
    session = engine.step(dialogue, engine.new_session(dialogue), Command("menu")).session
    assert "crisis" not in engine.step(dialogue, session, Say(words)).events


def test_the_other_languages_phrase_lists_raise_no_alarm_on_english() -> None:
    """Every list applies to every message: Welsh and Spanish phrases must not fire on the
    English examples that are not risk (the writers' files and blind set C)."""
    from bot.safety import is_risk
    from bot.safety.languages import load_language_phrases
    from bot.safety.train import read_examples

    files = sorted((ROOT / "dialogues/safety/training").glob("*.yaml"))
    examples, _ = read_examples([*files, ROOT / "tests/safety_blind_c.yaml"])
    matchers, problems = load_language_phrases(ROOT / "dialogues")
    assert problems == [] and set(matchers) == {"cy", "es"}
    others = [e.text for e in examples if e.label == 0]
    assert len(others) > 1000
    for lang, matcher in matchers.items():
        assert [t for t in others if is_risk(t, matcher)] == [], lang


async def test_a_preview_language_is_offered_to_admins_only() -> None:
    import asyncio

    from bot.service.run import load_service, serve
    from tests.fakes.bot_api import FakeBotApi
    from tests.service_harness import Harness, make_config

    admin, parent = 7, 1001
    async with FakeBotApi() as fake:
        config = make_config(
            fake,
            ROOT / "dialogues",
            admins=frozenset({admin}),
            preview_languages=("cy",),
        )
        service = load_service(config)  # what run does: only reviewed or preview languages
        assert service.dialogue.settings.languages == ("en", "cy")
        assert any("'es' is refused" in n for n in service.language_notes)
        stop, ready = asyncio.Event(), asyncio.Event()
        task = asyncio.create_task(serve(config, stop=stop, ready=ready, service=service))
        try:
            await asyncio.wait_for(ready.wait(), 10)
            h = Harness(fake, config)  # only its helpers: the service is already running
            for user in (admin, parent):
                await h.text(user, "/start")
            said = [c.params["text"] for c in await h.text(parent, "/language cy")]
            assert "Sorry, that language is not available." in said
            said = [c.params["text"] for c in await h.text(admin, "/language cy")]
            assert "Iaith wedi'i newid." in said
            said = [c.params["text"] for c in await h.text(admin, "/language es")]
            assert any("ydy'r iaith honno ddim ar gael" in t for t in said)
            said = [c.params["text"] for c in await h.text(parent, "/menu")]
            assert any("What would you like to look at?" in t for t in said)
            said = [c.params["text"] for c in await h.text(admin, "/preview crisis cy")]
            assert any("Llinell Gymraeg y Samariaid" in t for t in said)
            said = [
                c.params["text"]
                for c in await h.text(admin, "/preview crisis es", until_buttons=False)
            ]
            assert said == ["No language 'es' here (en, cy)."]
        finally:
            stop.set()
            await asyncio.wait_for(task, 15)


def test_a_translation_follows_its_text_when_a_message_is_added_above_it(folder: Path) -> None:
    (result,) = export_language(folder, "cy")
    _translate(result.path, {"node:welcome/message 1": "Helo {first_name|chi}."})
    main_yaml = folder / "main.yaml"
    text = main_yaml.read_text()
    english = load_dialogue_dir(folder).dialogue.nodes["welcome"].messages[0].text.variants["en"]
    # A writer adds a message above it, after the export: its name is now message 2.
    line = next(line for line in text.splitlines() if english in line)
    indent = line[: len(line) - len(line.lstrip())]
    main_yaml.write_text(text.replace(line, f'{indent}- "A new first message."\n{line}', 1))
    imported = import_po(result.path, "cy", folder)
    assert imported.fuzzy == 0
    node = load_dialogue_dir(folder).dialogue.nodes["welcome"]
    assert node.messages[1].text.pick("cy", "en") == "Helo {first_name|chi}."
    assert node.messages[0].text.pick("cy", "en") == "A new first message."


def test_validate_and_run_check_say_per_language_what_is_missing_and_why_it_is_refused(
    tmp_path: Path, capsys
) -> None:
    assert main(["validate", str(ROOT / "dialogues")]) == 0
    out = capsys.readouterr().out
    assert "cy: 0 missing, 0 fuzzy" in out and "NOT REVIEWED: run refuses it" in out
    from bot.service.run import check

    config = parse_config(
        b"dialogues:\n  path: " + str(ROOT / "dialogues").encode() + b"\n"
        b"storage:\n  path: " + str(tmp_path / "db.sqlite3").encode() + b"\n",
        str(tmp_path / "c.yaml"),
        env={"TELEGRAM_BOT_TOKEN": "123:abc"},
    )
    assert check(config) == 0
    out = capsys.readouterr().out
    assert "languages: en\n" in out
    assert "note: language 'es' is refused: its crisis reply and safety question have not" in out


def test_broken_files_get_a_clear_message_not_a_traceback(folder: Path, capsys) -> None:
    assert main(["translate", "export", "cy", str(folder)]) == 0
    po = folder / "translations" / "cy" / "main.po"
    (folder / "main.yaml").write_text("nodes:\n  a: [unclosed\n")
    assert main(["translate", "export", "cy", str(folder)]) == 1
    assert "main.yaml:3: this file is not valid YAML" in capsys.readouterr().err
    assert main(["translate", "import", "cy", str(po)]) == 1
    assert "not valid YAML" in capsys.readouterr().err
    po.write_text('msgid "unclosed\n')  # polib is lenient: it reads as an empty file
    assert main(["translate", "import", "cy", str(po)]) == 1
    assert "no 'X-Dialogue-File' header" in capsys.readouterr().err


def test_the_safety_command_shows_which_language_s_phrase_fires(capsys) -> None:
    assert main(["safety", "--dialogues", str(ROOT / "dialogues"), "Dw i ddim isio byw"]) == 0
    out = capsys.readouterr().out
    assert "CRISIS REPLY  (matched: " in out and "cy: (ddim|dim) (eisiau|isio|moyn)" in out
    assert main(["safety", "--dialogues", str(ROOT / "dialogues"), "me quiero morir"]) == 0
    assert "es: me (quiero|voy a) morir" in capsys.readouterr().out


def test_the_studio_plays_unsaved_edits_with_every_language_s_phrase_list(folder: Path) -> None:
    from bot.studio.project import Project

    (folder / "safety" / "risk-phrases.es.yaml").write_text("phrases:\n  - me quiero morir\n")
    project = Project(folder)
    text = (folder / "main.yaml").read_text()
    result = project.load(
        {"main.yaml": text.replace("languages: [en, cy]", "languages: [en, cy, es]")}
    )
    assert set(result.dialogue.language_phrases) == {"cy", "es"}
    session = engine.step(result.dialogue, engine.new_session(result.dialogue), Command("menu"))
    assert engine.step(result.dialogue, session.session, Say("Me quiero morir")).risk
