"""The install the deploy/ docs give, done under a temp root: the files it writes, and the
bot's own --check on them. Also what the Docker build and git are told to leave out."""

from __future__ import annotations

import os
import shutil
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

DEPLOY = ROOT / "deploy"
TOKEN = "123456:AAHsecretPartThatMustNeverBePrinted"


@pytest.fixture(scope="module")
def app(tmp_path_factory) -> Path:
    """A clone as install.sh sees it: deploy/ and dialogues/ from this one, and a virtualenv
    whose pip only records what it was asked (so the tests never reinstall the real one)
    and whose babyloss-bot is this checkout's."""
    app = tmp_path_factory.mktemp("clone")
    shutil.copytree(DEPLOY, app / "deploy")
    (app / "dialogues").symlink_to(ROOT / "dialogues")
    bin_ = app / ".venv" / "bin"
    bin_.mkdir(parents=True)
    (bin_ / "pip").write_text(f'#!/bin/sh\necho "$*" >>"{app}/pip.log"\n')
    (bin_ / "babyloss-bot").write_text(
        f'#!/bin/sh\nPYTHONPATH="{ROOT}" exec "{sys.executable}" -m bot "$@"\n'
    )
    for tool in ("pip", "babyloss-bot"):
        (bin_ / tool).chmod(0o755)
    return app


def install(app: Path, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["sh", str(app / "deploy" / "install.sh"), *args],
        capture_output=True, text=True, timeout=300, cwd=cwd,
    )  # fmt: skip


def check(app: Path, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "TELEGRAM_BOT_TOKEN"}
    return subprocess.run(
        ["sh", str(app / "deploy" / "check.sh"), *args],
        capture_output=True, text=True, timeout=120, env=env, cwd=cwd,
    )  # fmt: skip


@pytest.fixture(scope="module")
def installed(app: Path, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("root")
    result = install(app, str(root))
    assert result.returncode == 0, result.stderr
    return root


@pytest.fixture
def fresh(app: Path, tmp_path: Path) -> Path:
    """A root of its own, installed, with a well-formed token."""
    root = tmp_path / "root"
    assert install(app, str(root)).returncode == 0
    (root / "etc/babyloss-bot/token.env").write_text(f"TELEGRAM_BOT_TOKEN={TOKEN}\n")
    return root


def test_the_documented_install_is_what_the_test_runs() -> None:
    unit = (DEPLOY / "babyloss-bot.service").read_text()
    assert "deploy/install.sh" in unit and "deploy/check.sh" in unit
    readme = (ROOT / "README.md").read_text()
    assert "deploy/install.sh" in readme and "deploy/check.sh" in readme


def test_install_writes_the_folders_config_token_file_and_unit(app: Path, installed: Path) -> None:
    etc, state = installed / "etc/babyloss-bot", installed / "var/lib/babyloss-bot"
    assert stat.S_IMODE((etc / "token.env").stat().st_mode) == 0o600
    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    config = (etc / "config.yaml").read_text()
    assert f"path: {app}/dialogues" in config
    assert f"path: {state}/babyloss-bot.sqlite3" in config
    unit = (installed / "etc/systemd/system/babyloss-bot.service").read_text()
    assert f"--config {etc}/config.yaml" in unit and f"ExecStart={app}/.venv/bin/" in unit


def test_install_again_keeps_the_config_and_token(app: Path, installed: Path) -> None:
    token_file = installed / "etc/babyloss-bot/token.env"
    token_file.write_text("TELEGRAM_BOT_TOKEN=111:kept\n")
    assert install(app, str(installed)).returncode == 0
    assert token_file.read_text() == "TELEGRAM_BOT_TOKEN=111:kept\n"


def test_the_installed_bot_passes_its_own_check(app: Path, installed: Path) -> None:
    (installed / "etc/babyloss-bot/token.env").write_text(f"TELEGRAM_BOT_TOKEN={TOKEN}\n")
    result = check(app, str(installed))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "check passed" in result.stdout and "database:" in result.stdout
    assert TOKEN.split(":")[1] not in result.stdout + result.stderr


def test_install_always_installs_the_clone_itself_so_a_git_pull_upgrades(
    app: Path, installed: Path
) -> None:
    """The virtualenv exists already here, as on any second run: pip is still asked, for an
    editable install (a link to the clone, so the code is the clone's after a git pull)."""
    log = app / "pip.log"
    log.unlink(missing_ok=True)
    assert install(app, str(installed)).returncode == 0
    assert install(app, str(installed)).returncode == 0
    calls = log.read_text().splitlines()
    assert len(calls) == 2 and all(c.endswith(f"--editable {app}") for c in calls), calls


def test_the_readme_says_how_to_upgrade() -> None:
    readme = (ROOT / "README.md").read_text()
    upgrade = readme[readme.index("### Upgrade") :].split("\n## ")[0]
    steps = ["git pull", "deploy/install.sh", "deploy/check.sh", "systemctl restart babyloss-bot"]
    places = [upgrade.find(step) for step in steps]
    assert -1 not in places and places == sorted(places), places


def test_the_readme_tries_it_in_three_steps_token_before_check() -> None:
    readme = (ROOT / "README.md").read_text()
    install_at = readme.index("sh deploy/install.sh /tmp/try")
    token_at = readme.index("/tmp/try/etc/babyloss-bot/token.env", install_at)
    check_at = readme.index("sh deploy/check.sh /tmp/try", install_at)
    assert install_at < token_at < check_at
    assert "&& sh deploy/check.sh" not in readme


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize("order", ["online-first", "root-first"])
def test_check_takes_online_before_or_after_the_root(app: Path, fresh: Path, order: str) -> None:
    config = fresh / "etc/babyloss-bot/config.yaml"
    config.write_text(
        config.read_text().replace(
            "telegram:\n", f"telegram:\n  base_url: http://127.0.0.1:{closed_port()}/bot\n"
        )
    )
    args = ["--online", str(fresh)] if order == "online-first" else [str(fresh), "--online"]
    result = check(app, *args)
    out = result.stdout + result.stderr
    assert "not contacted" not in out and "Telegram could not be reached" in out, out
    assert result.returncode == 1 and "check failed" in out


@pytest.mark.parametrize("args", [["--onlin"], ["/a", "/b"], ["-x", "/a"]])
def test_check_refuses_what_it_does_not_know_with_its_usage(app: Path, args: list) -> None:
    result = check(app, *args)
    assert result.returncode == 2
    assert "usage: sh deploy/check.sh [--online] [ROOT]" in result.stderr


@pytest.mark.parametrize(
    "line",
    [
        f"TELEGRAM_BOT_TOKEN= {TOKEN}",
        f"TELEGRAM_BOT_TOKEN={TOKEN}  ",
        f'TELEGRAM_BOT_TOKEN="{TOKEN}"',
        f"TELEGRAM_BOT_TOKEN='{TOKEN}'",
        f"  TELEGRAM_BOT_TOKEN = {TOKEN}\r",
        f"# a comment\n; another\n\nTELEGRAM_BOT_TOKEN={TOKEN}",
        f"TELEGRAM_BOT_TOKEN=$(echo {TOKEN})x",  # read, never run: a malformed token
    ],
)
def test_check_reads_token_env_as_systemd_does_and_never_prints_the_token(
    app: Path, fresh: Path, line: str
) -> None:
    (fresh / "etc/babyloss-bot/token.env").write_text(line + "\n")
    result = check(app, str(fresh))
    out = result.stdout + result.stderr
    assert TOKEN.split(":")[1] not in out, out
    assert "not found" not in out
    if "$(" in line:
        assert result.returncode == 1 and "does not look like a bot token" in out
    else:
        assert result.returncode == 0 and "check passed" in out, out


def test_check_refuses_export_lines_which_systemd_ignores(app: Path, fresh: Path) -> None:
    (fresh / "etc/babyloss-bot/token.env").write_text(f"export TELEGRAM_BOT_TOKEN={TOKEN}\n")
    result = check(app, str(fresh))
    out = result.stdout + result.stderr
    assert result.returncode == 1 and TOKEN.split(":")[1] not in out
    assert "token.env" in out and "export" in out


def test_check_without_a_token_names_token_env(app: Path, fresh: Path) -> None:
    (fresh / "etc/babyloss-bot/token.env").write_text("TELEGRAM_BOT_TOKEN=\n")
    result = check(app, str(fresh))
    out = result.stdout + result.stderr
    assert result.returncode == 1
    assert f"{fresh}/etc/babyloss-bot/token.env" in out


def test_a_relative_root_is_taken_from_the_current_folder(app: Path, tmp_path: Path) -> None:
    assert install(app, "try", cwd=tmp_path).returncode == 0
    config = (tmp_path / "try/etc/babyloss-bot/config.yaml").read_text()
    assert f"path: {tmp_path}/try/var/lib/babyloss-bot/babyloss-bot.sqlite3" in config
    (tmp_path / "try/etc/babyloss-bot/token.env").write_text(f"TELEGRAM_BOT_TOKEN={TOKEN}\n")
    result = check(app, "try", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{tmp_path}/try/var/lib/babyloss-bot" in result.stdout


def test_the_installed_unit_verifies(installed: Path) -> None:
    if shutil.which("systemd-analyze") is None:
        # .ci/run installs it, so CI always runs this test.
        assert not os.environ.get("CI"), "CI must have systemd-analyze (.ci/run installs it)"
        pytest.skip("systemd-analyze is not installed here; the --check test above still ran")
    unit = installed / "etc/systemd/system/babyloss-bot.service"
    result = subprocess.run(
        ["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60
    )
    # verify only warns (exit 0) about unknown keys: any output at all is a finding.
    assert result.returncode == 0 and not result.stderr.strip(), result.stderr


def test_the_docker_build_leaves_out_local_state() -> None:
    ignored = (ROOT / ".dockerignore").read_text().split()
    for pattern in (".venv", "*.sqlite3*", "config.yaml", ".git"):
        assert pattern in ignored, pattern


@pytest.mark.parametrize(
    "name", ["bot.sqlite3", "bot.sqlite3-wal", "bot.sqlite3-shm", "x.db-wal", "b.sqlite3-journal"]
)
def test_git_ignores_databases_and_their_side_files(name: str) -> None:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    result = subprocess.run(["git", "check-ignore", "-q", "--no-index", name], cwd=ROOT, timeout=30)
    assert result.returncode == 0, f"{name} is not ignored"
