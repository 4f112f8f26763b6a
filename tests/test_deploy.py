"""The install the deploy/ docs give, done under a temp root: the files it writes, and the
bot's own --check on them. Also what the Docker build and git are told to leave out."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ROOT

DEPLOY = ROOT / "deploy"


def install(root: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["sh", str(DEPLOY / "install.sh"), str(root)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("root")
    result = install(root)
    assert result.returncode == 0, result.stderr
    return root


def test_the_documented_install_is_what_the_test_runs() -> None:
    unit = (DEPLOY / "babyloss-bot.service").read_text()
    assert "deploy/install.sh" in unit and "deploy/check.sh" in unit
    readme = (ROOT / "README.md").read_text()
    assert "deploy/install.sh" in readme and "deploy/check.sh" in readme


def test_install_writes_the_folders_config_token_file_and_unit(installed: Path) -> None:
    etc, state = installed / "etc/babyloss-bot", installed / "var/lib/babyloss-bot"
    assert stat.S_IMODE((etc / "token.env").stat().st_mode) == 0o600
    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    config = (etc / "config.yaml").read_text()
    assert f"path: {ROOT}/dialogues" in config
    assert f"path: {state}/babyloss-bot.sqlite3" in config
    unit = (installed / "etc/systemd/system/babyloss-bot.service").read_text()
    assert f"--config {etc}/config.yaml" in unit and f"ExecStart={ROOT}/.venv/bin/" in unit


def test_install_again_keeps_the_config_and_token(installed: Path) -> None:
    token_file = installed / "etc/babyloss-bot/token.env"
    token_file.write_text("TELEGRAM_BOT_TOKEN=111:kept\n")
    assert install(installed).returncode == 0
    assert token_file.read_text() == "TELEGRAM_BOT_TOKEN=111:kept\n"


def test_the_installed_bot_passes_its_own_check(installed: Path) -> None:
    (installed / "etc/babyloss-bot/token.env").write_text("TELEGRAM_BOT_TOKEN=123:abc\n")
    env = {k: v for k, v in os.environ.items() if k != "TELEGRAM_BOT_TOKEN"}
    result = subprocess.run(
        ["sh", str(DEPLOY / "check.sh"), str(installed)],
        capture_output=True, text=True, timeout=120, env=env,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "check passed" in result.stdout and "database:" in result.stdout
    assert "123:abc" not in result.stdout + result.stderr


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
