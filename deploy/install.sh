#!/bin/sh
# Install babyloss-bot as a systemd service from this clone. Safe to run again: it never
# overwrites a config or token file that exists. Run as root from the clone, e.g.
#   git clone https://.../babyloss-bot /srv/babyloss-bot && sh /srv/babyloss-bot/deploy/install.sh
# Optional argument: a root prefix to install under instead of / (used by the tests); then no
# user is created, nothing is chowned and systemd is not told. A relative one is taken from
# the current folder: the paths written into the config and the unit must be absolute.
# Upgrade: git pull, then run this again (it reinstalls the program from the clone).
set -eu
APP=$(cd "$(dirname "$0")/.." && pwd)
ROOT=${1:-}
case $ROOT in
    "" | /*) ;;
    *) ROOT=$(pwd)/$ROOT ;;
esac
ROOT=${ROOT%/}
ETC=$ROOT/etc/babyloss-bot
STATE=$ROOT/var/lib/babyloss-bot
UNIT=$ROOT/etc/systemd/system/babyloss-bot.service

if [ -z "$ROOT" ]; then
    [ "$(id -u)" = 0 ] || { echo "install.sh: run as root (or give a root prefix)" >&2; exit 1; }
    id babyloss >/dev/null 2>&1 ||
        useradd --system --home-dir "$STATE" --no-create-home --shell /usr/sbin/nologin babyloss
fi

# The program: a virtualenv inside the clone, with the clone installed into it as a link
# (editable), so the code is always the clone's. Done on every run, so after a git pull new
# dependencies and commands are installed too.
[ -x "$APP/.venv/bin/pip" ] || python3 -m venv "$APP/.venv"
"$APP/.venv/bin/pip" install --quiet --editable "$APP"

# Folders: the config (readable by the service), the database (the service's only).
install -d -m 0755 "$ETC" "$(dirname "$UNIT")"
install -d -m 0700 "$STATE"
[ -n "$ROOT" ] || chown babyloss:babyloss "$STATE"

# The config, with paths pointing at this clone's dialogues and at the state folder.
if [ ! -e "$ETC/config.yaml" ]; then
    sed -e "s|@APP@|$APP|g" -e "s|@STATE@|$STATE|g" "$APP/deploy/config.service.yaml" \
        >"$ETC/config.yaml"
    chmod 0644 "$ETC/config.yaml"
fi

# The token file: root only (systemd reads it before it drops to the babyloss user).
if [ ! -e "$ETC/token.env" ]; then
    (umask 077 && printf '%s\n' '# Put the token from @BotFather after the = sign:' \
        'TELEGRAM_BOT_TOKEN=' >"$ETC/token.env")
fi
chmod 0600 "$ETC/token.env"

# The unit, with this clone's path and the prefix's paths.
sed -e "s|/srv/babyloss-bot|$APP|g" -e "s|/etc/babyloss-bot|$ETC|g" \
    -e "s|/var/lib/babyloss-bot|$STATE|g" "$APP/deploy/babyloss-bot.service" >"$UNIT"
chmod 0644 "$UNIT"
[ -n "$ROOT" ] || systemctl daemon-reload

echo "Installed. Next:"
echo "  1. put the token in $ETC/token.env"
echo "  2. check:  sh $APP/deploy/check.sh --online${ROOT:+ $ROOT}"
[ -n "$ROOT" ] || echo "  3. start:  systemctl enable --now babyloss-bot"
