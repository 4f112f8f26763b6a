"""``babyloss-bot studio-user``: the team's studio accounts, kept in the file the config names.

The password is asked for twice without echo, or read from the first line of standard
input when that is not a terminal (for scripts). It is never printed or logged.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path

from bot.studio.accounts import AccountError, add_user, read_accounts, remove_user


def _accounts_file(config_path: str | None) -> Path:
    from bot.service.config import load_config
    from bot.studio.serve import StudioConfig

    config = load_config(config_path)
    return Path(StudioConfig.from_values(config.studio).accounts)


def _read_password() -> str:
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("Password (at least 10 characters): ")
    if getpass.getpass("The same password again: ") != first:
        raise AccountError("the two passwords are different; nothing was changed")
    return first


def studio_user(args: argparse.Namespace) -> int:
    from bot.service.config import ConfigError

    try:
        path = _accounts_file(args.config)
        if args.action == "list":
            for name in sorted(read_accounts(path)):
                print(name)
            return 0
        if not args.name:
            print(
                f"Give the account name: babyloss-bot studio-user {args.action} NAME",
                file=sys.stderr,
            )
            return 2
        if args.action == "remove":
            if remove_user(path, args.name):
                print(f"Removed '{args.name}' from {path}.")
                return 0
            print(f"There is no account '{args.name}' in {path}.", file=sys.stderr)
            return 1
        new = add_user(path, args.name, _read_password())
        print(f"{'Added' if new else 'Changed the password of'} '{args.name}' in {path}.")
        return 0
    except (AccountError, ConfigError) as exc:
        print(f"studio-user: {exc}", file=sys.stderr)
        return 1
