#!/bin/sh
# Check an installed babyloss-bot the way the service will run it: the token file, the config,
# the dialogues and the database folder (as the babyloss user when run as root).
#   sh deploy/check.sh [--online] [ROOT]
# --online also asks Telegram whether it knows the token. ROOT: the prefix given to install.sh.
set -eu
APP=$(cd "$(dirname "$0")/.." && pwd)
ONLINE=
[ "${1:-}" = --online ] && { ONLINE=--online; shift; }
ROOT=${1:-}
ETC=$ROOT/etc/babyloss-bot
set -a
# shellcheck source=/dev/null
. "$ETC/token.env"
set +a
if [ -z "$ROOT" ] && [ "$(id -u)" = 0 ]; then
    exec setpriv --reuid=babyloss --regid=babyloss --init-groups \
        "$APP/.venv/bin/babyloss-bot" run --config "$ETC/config.yaml" --check $ONLINE
fi
exec "$APP/.venv/bin/babyloss-bot" run --config "$ETC/config.yaml" --check $ONLINE
