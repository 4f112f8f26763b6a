"""The deployer's configuration file: defaults, validation and the token from the environment.

Every key is documented in ``config.example.yaml``. Unknown keys and wrong types are errors
that name the key and the file; the token is never printed, not even in an error.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from bot.dialogue.problems import did_you_mean
from bot.dialogue.yaml_reader import YMap, read_yaml

TOKEN_ENV = "TELEGRAM_BOT_TOKEN"
DEFAULT_BASE_URL = "https://api.telegram.org/bot"


class ConfigError(Exception):
    """A problem with the configuration, already phrased for the deployer."""


@dataclass(frozen=True)
class WebhookConfig:
    listen: str = "127.0.0.1"
    port: int = 8443
    url: str = ""
    secret_token: str = ""


@dataclass(frozen=True)
class Config:
    token: str = ""
    base_url: str = DEFAULT_BASE_URL
    mode: str = "polling"
    webhook: WebhookConfig = field(default_factory=WebhookConfig)
    dialogues_path: Path = Path("dialogues")
    default_language: str | None = None
    # Languages not yet reviewed that admins (only) may try: see bot.dialogue.review.
    preview_languages: tuple[str, ...] = ()
    variables: dict = field(default_factory=dict)
    storage_path: Path = Path("babyloss-bot.sqlite3")
    retention_days: int = 180
    session_idle_hours: float = 24.0
    typing_delay_ms: int = 1200
    flood_limit: int = 20  # updates per parent per 10 seconds before a pause; 0 = off
    max_messages_per_second: float = 30.0
    transport: str = "aiohttp"
    health_listen: str = "127.0.0.1"
    health_port: int = 0
    health_metrics: bool = False
    admins: frozenset[int] = frozenset()
    log_level: str = "INFO"
    log_format: str = "text"
    studio: dict = field(default_factory=dict)  # the studio: section, paths resolved
    source: str = "(defaults)"

    def load_dialogues(self):
        """The dialogues as this config asks for them (path, language, variables)."""
        from bot.dialogue.loader import load_dialogue_dir
        from bot.dialogue.review import gate_languages

        result = load_dialogue_dir(
            self.dialogues_path, default_language=self.default_language, variables=self.variables
        )
        if result.ok:  # only reviewed languages reach parents; preview ones reach admins
            gate = gate_languages(result.dialogue, self.preview_languages)
            if gate.errors:
                raise ConfigError("; ".join(gate.errors))
            result.dialogue = gate.dialogue
            result.language_notes = list(gate.notes)
        return result

    def __repr__(self) -> str:  # never show the token, even in a traceback or a debugger
        return f"Config(source={self.source!r}, mode={self.mode!r}, token=<hidden>)"


# key path -> (type description, checker). Types are checked strictly: no silent coercion.
def _str(v):
    return isinstance(v, str)


def _int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def _num(v):
    return isinstance(v, int | float) and not isinstance(v, bool)


def _port(v):
    return _int(v) and 0 <= v <= 65535


SCHEMA: dict[str, tuple[str, object]] = {
    "telegram.token": ("text", _str),
    "telegram.base_url": ("a URL", lambda v: _str(v) and v.startswith(("http://", "https://"))),
    "telegram.max_messages_per_second": (
        "a number above 0 (Telegram allows about 30)",
        lambda v: _num(v) and v > 0,
    ),
    "telegram.transport": ("'aiohttp' or 'httpx'", lambda v: v in ("aiohttp", "httpx")),
    "telegram.mode": ("'polling' or 'webhook'", lambda v: v in ("polling", "webhook")),
    "telegram.webhook.listen": ("an address such as 0.0.0.0", _str),
    "telegram.webhook.port": ("a port number (0-65535)", _port),
    "telegram.webhook.url": ("an https:// URL", _str),
    "telegram.webhook.secret_token": (
        "1-256 characters A-Z a-z 0-9 _ -",
        lambda v: (
            _str(v) and len(v) <= 256 and all(c.isascii() and (c.isalnum() or c in "_-") for c in v)
        ),
    ),
    "dialogues.path": ("a folder path", _str),
    "dialogues.default_language": ("a language code such as en", _str),
    "dialogues.preview_languages": (
        "a list of language codes",
        lambda v: isinstance(v, list) and all(_str(i) for i in v),
    ),
    "dialogues.variables": ("a mapping of names to words", lambda v: isinstance(v, dict)),
    "storage.path": ("a file path", _str),
    "storage.retention_days": ("a whole number of days above 0", lambda v: _int(v) and v > 0),
    "storage.session_idle_hours": ("a number of hours above 0", lambda v: _num(v) and v > 0),
    "pacing.typing_delay_ms": ("milliseconds, 0 or more", lambda v: _int(v) and 0 <= v <= 10000),
    "pacing.flood_limit": ("a whole number of updates, 0 or more", lambda v: _int(v) and v >= 0),
    "health.listen": ("an address such as 127.0.0.1", _str),
    "health.port": ("a port number (0 = off)", _port),
    "health.metrics": ("true or false", lambda v: isinstance(v, bool)),
    "admins": (
        "a list of Telegram user ids (numbers)",
        lambda v: isinstance(v, list) and all(_int(i) for i in v),
    ),
    "logging.level": (
        "DEBUG, INFO, WARNING or ERROR",
        lambda v: _str(v) and v.upper() in ("DEBUG", "INFO", "WARNING", "ERROR"),
    ),
    "logging.format": ("'text' or 'json'", lambda v: v in ("text", "json")),
    # The browser studio beside the bot (bot/studio/, docs/studio.md).
    "studio.enabled": ("true or false", lambda v: isinstance(v, bool)),
    "studio.listen": ("an address such as 127.0.0.1", _str),
    "studio.port": ("a port number (0-65535)", _port),
    "studio.accounts": ("a file path", _str),
    "studio.draft_path": ("a folder path", _str),
    "studio.versions_path": ("a folder path", _str),
    "studio.secure_cookies": ("true or false", lambda v: isinstance(v, bool)),
    "studio.session_minutes": ("a number of minutes above 0", lambda v: _num(v) and v > 0),
}
STUDIO_PATHS = ("accounts", "draft_path", "versions_path")
SECTIONS = {key.rsplit(".", 1)[0] for key in SCHEMA if "." in key}
SECTIONS |= {s.rsplit(".", 1)[0] for s in list(SECTIONS) if "." in s}


def _flatten(mapping: YMap, prefix: str, path: str, out: dict) -> None:
    for key, value in mapping.items():
        full = f"{prefix}{key}"
        line = mapping.where(key)[0]
        if full in SECTIONS:
            if not isinstance(value, YMap):
                if value is None:
                    continue
                raise ConfigError(f"{path}:{line}: '{full}' should be a section of keys")
            _flatten(value, f"{full}.", path, out)
        elif full in SCHEMA:
            out[full] = (value, line)
        else:
            known = [k for k in SCHEMA if k.startswith(prefix)] + [
                s for s in SECTIONS if s.startswith(prefix)
            ]
            names = [k[len(prefix) :].split(".")[0] for k in known]
            raise ConfigError(
                f"{path}:{line}: unknown key '{full}'.{did_you_mean(key, names)} "
                "Every key is listed in config.example.yaml."
            )


def parse_config(data: bytes, path: str, env: dict[str, str] | None = None) -> Config:
    """Build a Config from the file's bytes and the environment. Raises ConfigError."""
    env = os.environ if env is None else env
    root, problems = read_yaml(data, path) if data.strip() else (YMap(), [])
    if problems:
        raise ConfigError("\n".join(p.format() for p in problems))
    if not isinstance(root, YMap):
        raise ConfigError(f"{path}: the configuration should be a mapping of sections")
    values: dict[str, tuple[object, int]] = {}
    _flatten(root, "", path, values)
    for key, (value, line) in values.items():
        description, ok = SCHEMA[key]
        if value is None or not ok(value):  # type: ignore[operator]
            shown = "<hidden>" if "token" in key else repr(value)
            raise ConfigError(f"{path}:{line}: '{key}' should be {description}, not {shown}")

    def get(key: str, default=None):
        return values[key][0] if key in values else default

    token = env.get(TOKEN_ENV) or get("telegram.token", "")
    mode = get("telegram.mode", "polling")
    webhook = WebhookConfig(
        listen=get("telegram.webhook.listen", "127.0.0.1"),
        port=get("telegram.webhook.port", 8443),
        url=get("telegram.webhook.url", ""),
        secret_token=get("telegram.webhook.secret_token", ""),
    )
    if mode == "webhook" and not webhook.url:
        raise ConfigError(
            f"{path}: telegram.mode is 'webhook', so telegram.webhook.url is "
            "required (the public https:// address Telegram should call)"
        )
    if mode == "webhook" and not webhook.secret_token:
        raise ConfigError(
            f"{path}: telegram.mode is 'webhook', so telegram.webhook.secret_token "
            "is required: without it anyone could post fake updates"
        )
    base = Path(path).parent if path and Path(path).exists() else Path(".")
    variables = get("dialogues.variables", {}) or {}
    return Config(
        token=token,
        base_url=get("telegram.base_url", DEFAULT_BASE_URL),
        mode=mode,
        webhook=webhook,
        dialogues_path=_resolve(base, get("dialogues.path", "dialogues")),
        default_language=get("dialogues.default_language"),
        preview_languages=tuple(get("dialogues.preview_languages", []) or []),
        variables={str(k): _word(v) for k, v in variables.items()},
        storage_path=_resolve(base, get("storage.path", "babyloss-bot.sqlite3")),
        retention_days=get("storage.retention_days", 180),
        session_idle_hours=float(get("storage.session_idle_hours", 24)),
        typing_delay_ms=get("pacing.typing_delay_ms", 1200),
        flood_limit=get("pacing.flood_limit", 20),
        max_messages_per_second=float(get("telegram.max_messages_per_second", 30)),
        transport=get("telegram.transport", "aiohttp"),
        health_listen=get("health.listen", "127.0.0.1"),
        health_port=get("health.port", 0),
        health_metrics=get("health.metrics", False),
        admins=frozenset(get("admins", []) or []),
        log_level=str(get("logging.level", "INFO")).upper(),
        log_format=get("logging.format", "text"),
        studio={
            key[7:]: _resolve(base, value) if key[7:] in STUDIO_PATHS else value
            for key, (value, _) in values.items()
            if key.startswith("studio.")
        },
        source=path,
    )


def load_config(path: str | Path | None, env: dict[str, str] | None = None) -> Config:
    if path is None:
        return parse_config(b"", "(no config file)", env)
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the configuration file ({exc.strerror})") from None
    return parse_config(data, str(path), env)


def _resolve(base: Path, value: str) -> Path:
    p = Path(value).expanduser()
    return p if p.is_absolute() else (base / p)


def _word(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
