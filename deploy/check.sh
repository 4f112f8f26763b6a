#!/bin/sh
# Check an installed babyloss-bot the way the service will run it: the token file, the config,
# the dialogues, the database folder and the health port (as the babyloss user when run as
# root).
#   sh deploy/check.sh [--online] [ROOT]
# --online also asks Telegram whether it knows the token. ROOT: the prefix given to install.sh
# (a relative one is taken from the current folder). The arguments may come in any order.
set -eu
APP=$(cd "$(dirname "$0")/.." && pwd)
usage() {
    echo "usage: sh deploy/check.sh [--online] [ROOT]" >&2
    echo "  --online  also ask Telegram whether it knows the token" >&2
    echo "  ROOT      the folder given to install.sh, if any (default: /)" >&2
    exit 2
}
ONLINE=
ROOT=
ROOT_GIVEN=
for arg in "$@"; do
    case $arg in
        --online) ONLINE=--online ;;
        -h | --help) usage ;;
        -*) echo "check.sh: unknown option '$arg'" >&2; usage ;;
        *)
            [ -z "$ROOT_GIVEN" ] || { echo "check.sh: more than one ROOT given" >&2; usage; }
            ROOT=$arg ROOT_GIVEN=1 ;;
    esac
done
case $ROOT in
    "" | /*) ;;
    *) ROOT=$(pwd)/$ROOT ;;
esac
ROOT=${ROOT%/}
ETC=$ROOT/etc/babyloss-bot
TOKEN_FILE=$ETC/token.env

# token.env is read the way systemd's EnvironmentFile= reads it, never run as shell code:
# KEY=VALUE lines, whitespace around the key and the value dropped, one pair of quotes
# around the value removed, lines starting with # or ; ignored. Values are never printed.
[ -r "$TOKEN_FILE" ] || {
    echo "error: cannot read $TOKEN_FILE (run install.sh first; as root for /etc)" >&2
    exit 1
}
unset TELEGRAM_BOT_TOKEN
n=0
while IFS= read -r line || [ -n "$line" ]; do
    n=$((n + 1))
    line=${line#"${line%%[![:space:]]*}"}
    line=${line%"${line##*[![:space:]]}"}
    case $line in
        "" | "#"* | ";"*) continue ;;
        export[[:space:]]*)
            echo "error: $TOKEN_FILE line $n: remove 'export': systemd reads plain" \
                "KEY=VALUE lines and ignores this one" >&2
            exit 1 ;;
        *=*) ;;
        *) continue ;;  # systemd ignores lines without '='
    esac
    key=${line%%=*}
    key=${key%"${key##*[![:space:]]}"}
    value=${line#*=}
    value=${value#"${value%%[![:space:]]*}"}
    case $value in
        \"*\" | \'*\') value=${value#?} value=${value%?} ;;
    esac
    case $key in
        "" | [0-9]* | *[!A-Za-z0-9_]*)
            # The line is not shown: it may hold the token.
            echo "error: $TOKEN_FILE line $n: the part before = is not a variable name" \
                "(write TELEGRAM_BOT_TOKEN=<the token>)" >&2
            exit 1 ;;
    esac
    export "$key=$value"
done <"$TOKEN_FILE"
if [ -z "${TELEGRAM_BOT_TOKEN:-}" ]; then
    echo "error: no token in $TOKEN_FILE: put the token from @BotFather after" \
        "TELEGRAM_BOT_TOKEN=" >&2
fi

if [ -z "$ROOT" ] && [ "$(id -u)" = 0 ]; then
    exec setpriv --reuid=babyloss --regid=babyloss --init-groups \
        "$APP/.venv/bin/babyloss-bot" run --config "$ETC/config.yaml" --check $ONLINE
fi
exec "$APP/.venv/bin/babyloss-bot" run --config "$ETC/config.yaml" --check $ONLINE
