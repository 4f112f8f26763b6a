"""The studio in a real browser: Chromium from the distribution, driven by Playwright.

Nothing is downloaded: Playwright's wheel carries its driver and the browser is the
system's (``apt-get install chromium``). If it is missing these tests fail and say so.
The servers run on 127.0.0.1 in a background event loop; one browser serves the module.
Set STUDIO_SCREENSHOTS=docs/studio to refresh the screenshots in the docs.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import socket
import threading
from pathlib import Path

import pytest

from bot.studio.accounts import add_user
from bot.studio.serve import StudioServer
from bot.studio.web import StudioSettings
from tests.conftest import ROOT
from tests.fakes.bot_api import FakeBotApi
from tests.service_harness import Harness, make_config

EXAMPLE = ROOT / "docs" / "examples" / "first-dialogue"
CHROMIUM = os.environ.get("STUDIO_CHROMIUM") or next(
    (p for p in map(shutil.which, ("chromium", "chromium-browser")) if p), None
)
SHOTS = os.environ.get("STUDIO_SCREENSHOTS")
PASSWORD = "correct horse battery"


class LoopThread:
    """An asyncio loop in a thread, for servers the synchronous browser test talks to."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro, timeout: float = 30):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM:
        pytest.fail(
            "The studio's browser tests need Chromium: apt-get update && apt-get install -y "
            "chromium (or set STUDIO_CHROMIUM to a Chromium executable)."
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def loop_thread():
    lt = LoopThread()
    yield lt
    lt.close()


@pytest.fixture(scope="module")
def local_studio(loop_thread, tmp_path_factory):
    folder = tmp_path_factory.mktemp("studio") / "dialogues"
    shutil.copytree(EXAMPLE, folder)
    settings = StudioSettings(folder=folder, mode="local", local_token="tok", local_user="vol")
    server = StudioServer(settings)
    port = loop_thread.run(server.start("127.0.0.1", 0))
    yield f"http://127.0.0.1:{port}", folder
    loop_thread.run(server.stop())


@pytest.fixture
def page(browser, local_studio):
    url, _ = local_studio
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.goto(f"{url}/login?token=tok")
    pg.wait_for_selector("#editor-title:has-text('main.yaml')")
    pg.wait_for_selector("#chat .msg .buttons button")
    yield pg
    context.close()
    assert not errors, errors


def _line_of(text: str, needle: str, start: int = 0) -> int:
    """1-based number of the first line containing ``needle`` after line ``start``."""
    lines = text.splitlines()
    return next(i + 1 for i in range(start, len(lines)) if needle in lines[i])


def _cursor_at_end_of(pg, line: int) -> None:
    pg.evaluate(
        "(n) => { const cm = document.querySelector('.CodeMirror').CodeMirror;"
        " cm.focus(); cm.setCursor({line: n - 1, ch: cm.getLine(n - 1).length}); }",
        line,
    )


def _problem_at(pg, code: str):
    """The line widget with ``code`` and the line number CodeMirror shows beside it."""
    wrapper = pg.locator(f".CodeMirror-code > div:has(.line-problem[data-code='{code}'])")
    wrapper.first.wait_for(timeout=5000)
    return wrapper.first.locator(".CodeMirror-linenumber").inner_text()


def _shot(pg, name: str, selector: str | None = None) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        target = pg.locator(selector) if selector else pg
        target.screenshot(path=str(Path(SHOTS) / f"{name}.png"))


# -- A volunteer's laptop ---------------------------------------------------------------------
def test_a_broken_line_shows_its_code_at_that_line_and_clears_when_fixed(page, local_studio):
    _, folder = local_studio
    text = (folder / "main.yaml").read_text()
    line = _line_of(text, "to: about")
    _cursor_at_end_of(page, line)
    for _ in "about":
        page.keyboard.press("Backspace")
    page.keyboard.type("abuot")
    assert _problem_at(page, "BL011") == str(line)
    widget = page.locator(".line-problem[data-code='BL011']")
    assert (
        "goes to 'abuot'" in widget.inner_text() and "Did you mean 'about'" in widget.inner_text()
    )
    assert f"main.yaml:{line}" in page.locator("#problems").inner_text()
    if SHOTS:  # the line and its problem in the middle of the editor, for the docs
        page.evaluate(
            "(n) => document.querySelector('.CodeMirror').CodeMirror"
            ".scrollIntoView({line: n - 1, ch: 0}, 200)",
            line,
        )
        _shot(page, "editor")
    for _ in "abuot":
        page.keyboard.press("Backspace")
    page.keyboard.type("about")
    page.wait_for_selector(".line-problem", state="detached", timeout=5000)
    page.wait_for_selector("#summary:has-text('0 error(s), 0 warning(s)')")
    assert (folder / "main.yaml").read_text() == text  # nothing saved while typing


def test_play_a_path_press_buttons_type_and_jump(page):
    page.get_by_role("button", name="I'm a partner").click()
    page.wait_for_selector("#chat:has-text('how are you doing')")
    assert page.locator("#chat .pause").count() >= 1  # pauses shown, not waited
    page.get_by_label("Type as a parent").fill("who made you?")
    page.get_by_role("button", name="Send").click()
    page.wait_for_selector("#chat:has-text('This is an example')")
    _shot(page, "player", "#tools-panel")
    page.get_by_label("Type as a parent").fill("I want to die")
    page.keyboard.press("Enter")
    page.wait_for_selector("#chat .msg:has-text('116 123')")
    assert page.locator("#chat").get_attribute("data-node") == "crisis"
    page.get_by_label("Start from node").fill("not_today")
    page.get_by_role("button", name="Go").click()
    page.wait_for_selector("#chat:has-text('whenever you want to come back')")
    page.get_by_label("Language").select_option("cy")
    page.wait_for_selector("#chat:has-text('Yn ôl i')")


def test_the_graph_opens_a_node_in_the_editor(page, local_studio):
    _, folder = local_studio
    page.get_by_role("tab", name="Graph").click()
    node = page.locator("#graph g.node[data-node='anniversary_saved']")
    node.wait_for(timeout=20000)
    _shot(page, "graph", "#tools-panel")
    node.click()
    line = _line_of((folder / "main.yaml").read_text(), "  anniversary_saved:")
    cursor = page.evaluate("document.querySelector('.CodeMirror').CodeMirror.getCursor().line")
    assert cursor + 1 == line
    # Keyboard only: Tab to a node and press Enter.
    page.locator("#graph g.node[data-node='crisis']").focus()
    page.keyboard.press("Enter")
    cursor = page.evaluate("document.querySelector('.CodeMirror').CodeMirror.getCursor().line")
    text = (folder / "main.yaml").read_text()
    assert cursor + 1 == _line_of(text, "  crisis:", start=_line_of(text, "nodes:"))


def test_tests_and_signposts_tabs(page):
    page.get_by_role("tab", name="Tests").click()
    page.get_by_role("button", name="Run the conversation tests").click()
    page.wait_for_selector("#tests-summary:has-text('passed, 0 failed')")
    page.get_by_role("tab", name="Signposts").click()
    row = page.locator("#signposts tbody tr").first
    row.wait_for()
    assert "samaritans" in row.inner_text() and "2026-11-01" in row.inner_text()


def test_saving_over_a_file_changed_on_disk_asks_first(page, local_studio):
    _, folder = local_studio
    original = (folder / "main.yaml").read_text()
    try:
        _cursor_at_end_of(page, 1)
        page.keyboard.type("  # edited in the studio")
        (folder / "main.yaml").write_text(original + "# edited by someone else\n")
        asked: list[str] = []

        def refuse(dialog):
            asked.append(dialog.message)
            dialog.dismiss()

        page.once("dialog", refuse)
        page.get_by_role("button", name="Save (Ctrl+S)").click()
        page.wait_for_selector("#status:has-text('Not saved')")
        assert asked and "changed on disk" in asked[0]
        assert (folder / "main.yaml").read_text().endswith("# edited by someone else\n")

        page.once("dialog", lambda d: d.accept())
        page.get_by_role("button", name="Save (Ctrl+S)").click()
        page.wait_for_selector("#status:has-text('Saved main.yaml')")
        assert "# edited in the studio" in (folder / "main.yaml").read_text()
        assert "someone else" not in (folder / "main.yaml").read_text()
    finally:
        (folder / "main.yaml").write_text(original)


def test_usable_at_200_percent_zoom(browser, local_studio):
    """1400x900 at 200% is a 700x450 CSS-pixel window: the panels stack, nothing is cut."""
    url, _ = local_studio
    context = browser.new_context(viewport={"width": 700, "height": 450}, device_scale_factor=2)
    try:
        pg = context.new_page()
        pg.goto(f"{url}/login?token=tok")
        pg.wait_for_selector("#chat .msg .buttons button")
        assert pg.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        boxes = [
            pg.locator(s).bounding_box() for s in ("#files-panel", "#editor-panel", "#tools-panel")
        ]
        assert boxes[0]["y"] < boxes[1]["y"] < boxes[2]["y"]  # one column
        for control in ("#save", "#play-language", "#play-node", "#say"):
            label = pg.evaluate(
                "(sel) => { const el = document.querySelector(sel);"
                " return (el.labels && el.labels.length ? el.labels[0].textContent : '')"
                " || el.getAttribute('aria-label') || el.textContent; }",
                control,
            )
            assert label.strip(), control
        pg.get_by_role("button", name="I carried my baby").focus()
        pg.keyboard.press("Enter")  # keyboard only
        pg.wait_for_selector("#chat:has-text('What would you like to do?')")
    finally:
        context.close()


def test_without_a_session_401_and_outside_paths_404(browser, page, local_studio):
    url, _ = local_studio
    stranger = browser.new_context()
    try:
        assert stranger.request.get(f"{url}/api/state").status == 401
        assert stranger.request.get(f"{url}/api/file?path=main.yaml").status == 401
    finally:
        stranger.close()
    for bad in ("../../etc/passwd", "/etc/passwd", "tests/../../../etc/passwd"):
        assert page.request.get(f"{url}/api/file", params={"path": bad}).status == 404


# -- Beside the live bot: the volunteer's whole journey -----------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _replace_in_editor(pg, old: str, new: str) -> None:
    """Select ``old`` in the editor (as a search would) and type ``new`` over it."""
    found = pg.evaluate(
        "(old) => { const cm = document.querySelector('.CodeMirror').CodeMirror;"
        " const i = cm.getValue().indexOf(old); if (i < 0) return false; cm.focus();"
        " cm.setSelection(cm.posFromIndex(i), cm.posFromIndex(i + old.length)); return true; }",
        old,
    )
    assert found, old
    pg.keyboard.insert_text(new)


def test_a_volunteer_edits_publishes_and_rolls_back_the_live_bot(browser, loop_thread, tmp_path):
    live = tmp_path / "live"
    shutil.copytree(EXAMPLE, live)
    users = tmp_path / "team.json"
    add_user(users, "sam", PASSWORD)
    port = _free_port()
    fake = FakeBotApi()
    loop_thread.run(fake.start())
    config = make_config(
        fake,
        live,
        studio={
            "enabled": True,
            "listen": "127.0.0.1",
            "port": port,
            "accounts": users,
            "secure_cookies": False,  # plain http on 127.0.0.1 in the test
        },
    )
    harness = Harness(fake, config)
    loop_thread.run(harness.__aenter__())
    parent = 4242

    def bot_says(text: str) -> str:
        calls = loop_thread.run(harness.text(parent, text))
        return "\n".join(c.text or "" for c in calls)

    context = browser.new_context(viewport={"width": 1400, "height": 900})
    pg = context.new_page()
    try:
        assert "116 123" in bot_says("/support")
        url = f"http://127.0.0.1:{port}"
        pg.goto(url + "/")
        pg.get_by_label("Name").fill("sam")
        pg.get_by_label("Password").fill("not the password")
        pg.get_by_role("button", name="Sign in").click()
        pg.wait_for_selector("#login-error:has-text('do not match')")
        pg.get_by_label("Password").fill(PASSWORD)
        pg.get_by_role("button", name="Sign in").click()
        pg.wait_for_selector("#editor-title:has-text('main.yaml')")
        assert "editing the draft" in pg.locator("#who").inner_text()

        # Change a support number and add a node, with a slip in it.
        _replace_in_editor(pg, "call 116 123, free", "call 116 124, free")
        _replace_in_editor(
            pg,
            "        to: anniversary_ask\n",
            "        to: anniversary_ask\n"
            '      - label: {en: "Say thank you", cy: "Diolch"}\n'
            "        to: thank_yuo\n",
        )
        _replace_in_editor(
            pg,
            "  not_today:\n",
            "  thank_you:\n"
            "    messages:\n"
            '      - en: "Thank you for being here."\n'
            '        cy: "Diolch am fod yma."\n'
            "    options:\n"
            '      - label: {en: "Back to the menu", cy: "Yn ôl i\'r ddewislen"}\n'
            "        to: menu\n\n"
            "  not_today:\n",
        )
        text = pg.evaluate("document.querySelector('.CodeMirror').CodeMirror.getValue()")
        pg.locator("#problems button", has_text="BL011").click()  # scrolls to the line
        assert _problem_at(pg, "BL011") == str(_line_of(text, "to: thank_yuo"))
        _replace_in_editor(pg, "to: thank_yuo", "to: thank_you")
        pg.wait_for_selector("#summary:has-text('0 error(s), 0 warning(s)')")
        pg.keyboard.press("Control+s")
        pg.wait_for_selector("#status:has-text('Saved main.yaml')")
        assert "116 123" in (live / "main.yaml").read_text()  # only the draft changed

        # Play it.
        pg.get_by_label("Start from node").fill("about")
        pg.get_by_role("button", name="Go").click()
        pg.get_by_role("button", name="Say thank you").click()
        pg.wait_for_selector("#chat:has-text('Thank you for being here.')")

        # Publish: the example's test still expects the old number, so it is refused.
        pg.get_by_role("button", name="Publish").click()
        pg.wait_for_selector("#status:has-text('Not published')")
        assert "failing conversation test" in pg.locator("#status").inner_text()
        assert "116 123" in pg.locator("#publish-result").inner_text()  # the failing check
        assert "116 123" in bot_says("/support")

        # Fix the test, publish again: the running bot answers with the new words.
        pg.locator("#files button[data-path='tests/example.yaml']").click()
        pg.wait_for_selector("#editor-title:has-text('tests/example.yaml')")
        _replace_in_editor(pg, '"116 123"', '"116 124"')
        pg.wait_for_selector("#dirty:has-text('Not saved')")
        pg.keyboard.press("Control+s")
        pg.wait_for_selector("#status:has-text('Saved tests/example.yaml')")
        pg.get_by_role("button", name="Publish").click()
        pg.wait_for_selector("#status:has-text('Published version')")
        _shot(pg, "publish")
        assert "116 124" in bot_says("/support")
        loop_thread.run(harness.text(parent, "/help"))
        thanks = loop_thread.run(harness.press(parent, "Say thank you"))
        assert "Thank you for being here." in "\n".join(c.text or "" for c in thanks)

        # Roll back to what was live before: the bot says the old number again.
        pg.get_by_role("tab", name="Versions").click()
        rollback = pg.get_by_role("button", name=re.compile("Roll back to version 0001"))
        pg.once("dialog", lambda d: d.accept())
        rollback.click()
        pg.wait_for_selector("#status:has-text('Rolled back to 0001')")
        # The parent was on the new node, which is gone again: taken gently to the menu.
        assert "taken you back to the menu" in bot_says("/support")
        assert "116 123" in bot_says("/support")
        assert "116 123" in (live / "main.yaml").read_text()
        assert "thank_you" not in (tmp_path / "live.draft" / "main.yaml").read_text()
        assert pg.locator("#versions li").count() == 3
    finally:
        context.close()
        loop_thread.run(harness.stop())
        loop_thread.run(fake.stop())
