"""The studio's server side: paths, sessions, CSRF, saves, accounts, publish and roll back.

Real files in a temp dir, the real aiohttp application through aiohttp's test client,
real argon2 hashes and a real git. The browser tests are in test_studio_browser.py.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.cli import main as cli_main
from bot.service.config import ConfigError, parse_config
from bot.studio import accounts
from bot.studio.files import NotFound, atomic_write, safe_path
from bot.studio.project import Project
from bot.studio.publish import Publisher
from bot.studio.web import StudioSettings, build_app
from tests.conftest import ROOT

EXAMPLE = ROOT / "docs" / "examples" / "first-dialogue"
VENDOR = ROOT / "bot" / "studio" / "static" / "vendor"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    target = tmp_path / "dialogues"
    shutil.copytree(EXAMPLE, target)
    return target


def _local(folder: Path) -> StudioSettings:
    return StudioSettings(folder=folder, mode="local", local_token="secret-link", local_user="vol")


async def _signed_in(client: TestClient) -> str:
    response = await client.get("/login?token=secret-link", allow_redirects=False)
    assert response.status == 302
    state = await (await client.get("/api/state")).json()
    return state["csrf"]


# -- Paths ------------------------------------------------------------------------------
def test_safe_path_rejects_everything_outside(folder: Path, tmp_path: Path) -> None:
    outside = tmp_path / "secret.yaml"
    outside.write_text("x: 1\n")
    (folder / "link.yaml").symlink_to(outside)
    (folder / "linkdir").symlink_to(tmp_path, target_is_directory=True)
    for bad in (
        "../secret.yaml",
        "../../etc/passwd",
        "/etc/passwd",
        str(outside),
        "link.yaml",
        "linkdir/secret.yaml",
        "tests/../../secret.yaml",
        ".git/config",
        "main.yaml/",
        "",
        "main.py",
        "nothere.yaml",
    ):
        with pytest.raises(NotFound):
            safe_path(folder, bad)
    assert safe_path(folder, "main.yaml") == (folder / "main.yaml").resolve()
    assert safe_path(folder, "tests/new.yaml", must_exist=False).name == "new.yaml"


def test_atomic_write_leaves_no_temporary_files(folder: Path) -> None:
    target = folder / "main.yaml"
    atomic_write(target, b"nodes:\n")
    assert target.read_bytes() == b"nodes:\n"
    assert not [p for p in folder.iterdir() if p.name.startswith(".")]


# -- Sessions, CSRF and files through HTTP --------------------------------------------------
async def test_no_session_is_401_and_bad_paths_are_404(folder: Path) -> None:
    async with TestClient(TestServer(build_app(_local(folder)))) as client:
        for method, url in (
            ("GET", "/api/state"),
            ("GET", "/api/file?path=main.yaml"),
            ("POST", "/api/validate"),
            ("POST", "/api/publish"),
        ):
            response = await client.request(method, url)
            assert response.status == 401, url
        page = await client.get("/", allow_redirects=False)
        assert page.status == 302 and page.headers["Location"] == "/login"
        assert (await client.get("/login?token=wrong")).status == 403

        await _signed_in(client)
        for bad in ("../../etc/passwd", "/etc/passwd", "..%2F..%2Fetc%2Fpasswd", "x/../../a.yaml"):
            response = await client.get(f"/api/file?path={bad}")
            assert response.status == 404, bad
        assert (await client.get("/static/../../../etc/passwd")).status in (403, 404)
        ok = await client.get("/api/file?path=main.yaml")
        assert ok.status == 200
        assert ok.headers["Content-Security-Policy"].startswith("default-src 'self'")


async def test_changes_need_the_csrf_token_and_same_origin(folder: Path) -> None:
    async with TestClient(TestServer(build_app(_local(folder)))) as client:
        csrf = await _signed_in(client)
        data = json.dumps({"path": "main.yaml", "text": "x"})
        assert (await client.post("/api/validate", data=data)).status == 403
        wrong = {"X-CSRF-Token": "nope"}
        assert (await client.post("/api/validate", data=data, headers=wrong)).status == 403
        evil = {"X-CSRF-Token": csrf, "Origin": "https://evil.example"}
        assert (await client.post("/api/validate", data=data, headers=evil)).status == 403
        good = await client.post("/api/validate", data=data, headers={"X-CSRF-Token": csrf})
        assert good.status == 200


async def test_validation_prints_what_validate_prints(folder: Path, capsys) -> None:
    broken = (folder / "main.yaml").read_text().replace("to: about\n", "to: abuot\n", 1)
    async with TestClient(TestServer(build_app(_local(folder)))) as client:
        csrf = await _signed_in(client)
        response = await client.post(
            "/api/validate",
            json={"path": "main.yaml", "text": broken},
            headers={"X-CSRF-Token": csrf},
        )
        result = await response.json()
    (folder / "main.yaml").write_text(broken)  # now as validate would read it from disk
    assert cli_main(["validate", str(folder)]) == 1
    printed = capsys.readouterr().out
    assert result["errors"] == 1
    problem = result["problems"][0]
    assert problem["code"] == "BL011" and problem["file"] == "main.yaml"
    assert problem["line"] == broken.splitlines().index("        to: abuot") + 1
    assert problem["text"] in printed  # the same lines, hint and all


async def test_save_over_a_changed_file_asks_first(folder: Path) -> None:
    async with TestClient(TestServer(build_app(_local(folder)))) as client:
        csrf = await _signed_in(client)
        h = {"X-CSRF-Token": csrf}
        opened = await (await client.get("/api/file?path=main.yaml")).json()
        (folder / "main.yaml").write_text(opened["text"] + "# someone else\n")
        mine = opened["text"] + "# mine\n"
        body = {"path": "main.yaml", "text": mine, "version": opened["version"]}
        response = await client.put("/api/file", json=body, headers=h)
        assert response.status == 409 and (await response.json())["conflict"]
        assert (folder / "main.yaml").read_text().endswith("# someone else\n")
        response = await client.put("/api/file", json={**body, "force": True}, headers=h)
        assert response.status == 200
        assert (folder / "main.yaml").read_text() == mine
        version = (await response.json())["version"]
        assert version == hashlib.sha256(mine.encode()).hexdigest()
        created = await client.put(
            "/api/file", json={"path": "extra.yaml", "text": "nodes:\n", "create": True}, headers=h
        )
        assert created.status == 200 and (folder / "extra.yaml").exists()
        escape = await client.put(
            "/api/file", json={"path": "../escape.yaml", "text": "x", "create": True}, headers=h
        )
        assert escape.status == 404 and not (folder.parent / "escape.yaml").exists()


# -- Accounts ------------------------------------------------------------------------------
def test_accounts_are_argon2_hashes_in_a_private_file(tmp_path: Path) -> None:
    path = tmp_path / "accounts.json"
    assert accounts.add_user(path, "sam", "a long enough password")
    stored = json.loads(path.read_text())["users"]["sam"]["hash"]
    assert stored.startswith("$argon2id$") and "a long enough" not in path.read_text()
    assert path.stat().st_mode & 0o777 == 0o600
    assert accounts.check_password(path, "sam", "a long enough password")
    assert not accounts.check_password(path, "sam", "wrong password!")
    assert not accounts.check_password(path, "nobody", "a long enough password")
    with pytest.raises(accounts.AccountError):
        accounts.add_user(path, "sam", "short")
    with pytest.raises(accounts.AccountError):
        accounts.add_user(path, "../sam", "a long enough password")


def test_sessions_expire_when_idle_and_after_a_while() -> None:
    now = [0.0]
    sessions = accounts.Sessions(idle_seconds=60, absolute_seconds=300, clock=lambda: now[0])
    sid, _ = sessions.create("sam")
    now[0] = 50
    assert sessions.get(sid) is not None
    now[0] = 200  # idle for 150 s
    assert sessions.get(sid) is None
    sid, _ = sessions.create("sam")
    for t in range(250, 400, 30):  # busy, but past the absolute limit
        now[0] = t
    assert sessions.get(sid) is None


async def test_login_is_rate_limited(folder: Path, tmp_path: Path) -> None:
    users = tmp_path / "accounts.json"
    accounts.add_user(users, "sam", "a long enough password")
    settings = StudioSettings(folder=folder, mode="live", accounts_file=users)
    async with TestClient(TestServer(build_app(settings))) as client:
        for _ in range(5):
            r = await client.post("/api/login", json={"user": "sam", "password": "wrong guess"})
            assert r.status == 401
        r = await client.post(
            "/api/login", json={"user": "sam", "password": "a long enough password"}
        )
        assert r.status == 429
        assert (await client.get("/api/state")).status == 401


async def test_login_sets_a_strict_httponly_cookie(folder: Path, tmp_path: Path) -> None:
    users = tmp_path / "accounts.json"
    accounts.add_user(users, "sam", "a long enough password")
    settings = StudioSettings(folder=folder, mode="live", accounts_file=users, secure_cookies=True)
    async with TestClient(TestServer(build_app(settings))) as client:
        r = await client.post(
            "/api/login", json={"user": "sam", "password": "a long enough password"}
        )
        assert r.status == 200
        cookie = r.headers["Set-Cookie"]
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Secure" in cookie
        # local-mode links do nothing beside the live bot
        assert (await client.get("/login?token=secret-link", allow_redirects=False)).status == 200


def test_studio_user_command(tmp_path: Path, monkeypatch, capsys) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("studio:\n  enabled: true\n  accounts: team.json\n")
    monkeypatch.setattr("sys.stdin", __import__("io").StringIO("a long enough password\n"))
    assert cli_main(["studio-user", "add", "alex", "--config", str(config)]) == 0
    assert accounts.check_password(tmp_path / "team.json", "alex", "a long enough password")
    assert cli_main(["studio-user", "list", "--config", str(config)]) == 0
    assert "alex" in capsys.readouterr().out
    assert cli_main(["studio-user", "remove", "alex", "--config", str(config)]) == 0
    assert not accounts.read_accounts(tmp_path / "team.json")


def test_config_studio_section(tmp_path: Path) -> None:
    config = parse_config(b"studio:\n  enabled: true\n  port: 0\n  accounts: a.json\n", "c.yaml")
    assert config.studio["enabled"] is True and config.studio["accounts"].name == "a.json"
    with pytest.raises(ConfigError, match="studio.port"):
        parse_config(b"studio:\n  port: lots\n", "c.yaml")
    with pytest.raises(ConfigError, match="unknown key 'studio.pasword'"):
        parse_config(b"studio:\n  pasword: x\n", "c.yaml")


# -- Publish and roll back -----------------------------------------------------------------
def _crisis_line(folder: Path) -> str:
    return next(line for line in (folder / "main.yaml").read_text().splitlines() if "116" in line)


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def test_publish_refuses_a_failing_test_then_publishes_and_rolls_back(tmp_path: Path) -> None:
    live = tmp_path / "live"
    shutil.copytree(EXAMPLE, live)
    reloads = []
    pub = Publisher(
        tmp_path / "draft",
        live,
        tmp_path / "versions",
        lambda: reloads.append(1) or (True, "reloaded"),
    )
    pub.ensure_draft()
    pub.ensure_first_version()
    _edit(pub.draft / "main.yaml", "call 116 123", "call 116 124")
    _edit(pub.draft / "tests" / "example.yaml", "116 123", "116 124")
    _edit(pub.draft / "tests" / "example.yaml", 'says: "how are you doing"', 'says: "nope"')
    refused = pub.publish("sam")
    assert not refused.ok and "1 failing conversation test" in refused.message
    assert "116 123" in _crisis_line(live) and not reloads

    _edit(pub.draft / "tests" / "example.yaml", 'says: "nope"', 'says: "how are you doing"')
    done = pub.publish("sam")
    assert (
        done.ok and done.version == "0002" and done.changed == ["main.yaml", "tests/example.yaml"]
    )
    assert "116 124" in _crisis_line(live) and reloads == [1]
    versions = pub.list_versions()
    assert [v["id"] for v in versions] == ["0002", "0001"] and versions[0]["who"] == "sam"

    back = pub.rollback("sam", "0001")
    assert back.ok and back.version == "0003"
    assert "116 123" in _crisis_line(live) and "116 123" in _crisis_line(pub.draft)
    assert reloads == [1, 1]
    assert not pub.rollback("sam", "../0001").ok


def test_publish_refuses_warnings_too(tmp_path: Path) -> None:
    live = tmp_path / "live"
    shutil.copytree(EXAMPLE, live)
    pub = Publisher(tmp_path / "draft", live, tmp_path / "versions")
    pub.ensure_draft()
    _edit(pub.draft / "main.yaml", "checked: 2026-11-01", "checked: 2019-11-01")  # BL060 warning
    outcome = pub.publish("sam")
    assert not outcome.ok and "1 warning(s)" in outcome.message
    assert any(p["code"] == "BL060" for p in outcome.problems)


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_publish_in_a_git_repository_commits_and_rolls_back(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    live = repo / "dialogues"
    shutil.copytree(EXAMPLE, live)
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git[:3], "init", "-q"], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "start"], check=True)
    first = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True).stdout
    pub = Publisher(tmp_path / "draft", live, tmp_path / "versions")
    pub.ensure_draft()
    pub.ensure_first_version()  # git keeps the history: no numbered copy
    assert not (tmp_path / "versions").exists()
    _edit(pub.draft / "main.yaml", "call 116 123", "call 116 124")
    _edit(pub.draft / "tests" / "example.yaml", "116 123", "116 124")
    (pub.draft / "extra.yaml").write_text("nodes: {}\n")
    done = pub.publish("sam")
    assert done.ok, done.message
    log = subprocess.run([*git, "log", "--format=%an|%s"], capture_output=True, text=True).stdout
    assert log.splitlines()[0].startswith("sam|Studio: published by sam")
    back = pub.rollback("ana", first.strip())
    assert back.ok and "116 123" in _crisis_line(live) and not (live / "extra.yaml").exists()
    assert not (pub.draft / "extra.yaml").exists()


# -- The project wrapper -------------------------------------------------------------------
def test_project_player_graph_tests_and_signposts(folder: Path) -> None:
    project = Project(folder)
    state, out = project.play(None, {"kind": "start"})
    assert out["node"] == "welcome"
    partner = next(b for b in out["outputs"][-1]["buttons"] if b["label"] == "I'm a partner")
    state, out = project.play(state, {"kind": "press", "value": partner["data"]})
    assert out["node"] == "menu" and "how are you doing" in out["outputs"][-1][
        "text"
    ].lower() + " ".join(o.get("text", "").lower() for o in out["outputs"])
    state, out = project.play(state, {"kind": "say", "value": "I want to kill myself"})
    assert out["crisis"] and out["node"] == "crisis"
    _, out = project.play(state, {"kind": "enter", "value": "about"})
    assert out["node"] == "about"
    _, out = project.play(None, {"kind": "enter", "value": "abuot"})
    assert "Did you mean 'about'" in out["error"]

    graph = project.graph()
    assert (
        graph["mermaid"].startswith("flowchart TD")
        and graph["nodes"]["menu"]["file"] == "main.yaml"
    )
    tests = project.run_tests()
    assert tests["ran"] and tests["passed"] >= 2 and not tests["failures"]
    rows = project.signposts()
    assert rows[0]["id"] == "samaritans" and rows[0]["checked"] == "2026-11-01"


def test_vendored_files_match_their_manifest() -> None:
    manifest = json.loads((VENDOR / "MANIFEST.json").read_text())
    listed = manifest["sha256"]
    on_disk = {
        p.relative_to(VENDOR).as_posix()
        for p in VENDOR.rglob("*")
        if p.is_file() and p.name != "MANIFEST.json"
    }
    assert on_disk == set(listed)
    for name, digest in listed.items():
        assert hashlib.sha256((VENDOR / name).read_bytes()).hexdigest() == digest, name
    for package in manifest["packages"]:
        assert (VENDOR / package / "LICENSE").is_file()


def test_the_memo_gives_the_loaders_own_results(folder: Path) -> None:
    """Re-using what was read and checked in unchanged files changes nothing the volunteer sees."""
    from bot.dialogue.loader import load_dialogue_dir

    project = Project(folder)
    text = (folder / "main.yaml").read_text()
    broken = text.replace("to: about\n", "to: abuot\n", 1).replace("checked: 2026", "checked: 2020")
    first = project.validate("main.yaml", broken)
    project.validate("main.yaml", text)
    again = project.validate("main.yaml", broken)  # every file now comes from the memo
    assert first == again and first["errors"] == 1 and first["warnings"] == 1
    (folder / "main.yaml").write_text(broken)
    fresh = load_dialogue_dir(folder)
    assert [p["text"] for p in again["problems"]] == [p.format() for p in fresh.problems]


def test_safety_and_test_files_are_checked_as_their_commands_read_them(folder: Path) -> None:
    project = Project(folder)
    phrases = (folder / "safety" / "risk-phrases.yaml").read_text()
    broken = phrases.replace("phrases:", "phrases: [", 1)
    result = project.validate("safety/risk-phrases.yaml", broken)
    assert result["errors"] >= 1
    assert {p["file"] for p in result["problems"]} == {"safety/risk-phrases.yaml"}
    assert result["problems"][0]["code"] == "BL001"
    test_text = (folder / "tests" / "example.yaml").read_text()
    bad_start = test_text.replace("start: about", "start: abuot")
    result = project.validate("tests/example.yaml", bad_start)
    (problem,) = result["problems"]
    assert problem["code"] == "BL081" and "Did you mean 'about'" in problem["message"]
    assert problem["line"] == _line(bad_start, "- name: risk language")


def test_stale_signposts_are_marked(folder: Path) -> None:
    import datetime as dt

    rows = Project(folder).signposts(today=dt.date(2028, 1, 1))
    assert rows[0]["stale"] and rows[0]["checked"] == "2026-11-01"
    assert not Project(folder).signposts(today=dt.date(2027, 1, 1))[0]["stale"]


def _line(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def test_the_studio_command_serves_on_127_0_0_1_only(folder: Path) -> None:
    import re
    import sys
    import urllib.request
    from http.cookiejar import CookieJar

    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "studio", str(folder), "--port", "0", "--no-browser"],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        assert proc.stdout is not None
        url = None
        for line in proc.stdout:
            found = re.search(r"(http://\S+)", line)
            if found:
                url = found.group(1)
                break
        assert url and url.startswith("http://127.0.0.1:") and "/login?token=" in url
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))
        with opener.open(url, timeout=10) as page:  # the link signs in, then the page
            assert page.status == 200 and b"babyloss-bot studio" in page.read()
        base = url.split("/login")[0]
        with opener.open(f"{base}/api/state", timeout=10) as state:
            assert json.loads(state.read())["mode"] == "local"
    finally:
        proc.terminate()
        proc.wait(10)
