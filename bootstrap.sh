#!/bin/sh
# Set up and run hotline on Debian 12 (or a machine that already has the packages):
#   sh bootstrap.sh demo            install, then run the demo (no FreeSWITCH needed: it uses the test double)
#   sh bootstrap.sh test [ARGS...]  install, then run the tests; ARGS go to pytest unchanged
# Idempotent and quick on a second run: installed packages and an up-to-date .venv are left alone.
set -eu

# Debian packages per mode. python3/python3-venv are skipped when python3 (>= 3.11) can already make a venv.
DEMO_APT="python3 python3-venv espeak-ng ffmpeg fonts-noto-cjk libpango-1.0-0 libpangoft2-1.0-0"
TEST_APT="$DEMO_APT sip-tester baresip-core redis-server postgresql chromium poppler-utils"

cd "$(dirname "$0")"

say() { printf 'bootstrap: %s\n' "$*" >&2; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        say "need root or sudo for: $*"
        exit 1
    fi
}

python_ready() {
    python3 -c 'import sys, ensurepip, venv; sys.exit(sys.version_info < (3, 11))' 2>/dev/null
}

apt_install() {
    missing=""
    for pkg in "$@"; do
        case $pkg in python3 | python3-venv) python_ready && continue ;; esac
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q ' installed$' || missing="$missing $pkg"
    done
    [ -n "$missing" ] || return 0
    command -v apt-get >/dev/null 2>&1 || { say "no apt-get here: install$missing yourself"; exit 1; }
    # Refresh the package lists only when they are missing or more than a day old.
    if [ -z "$(find /var/lib/apt/lists -maxdepth 1 -name '*_Packages*' -mtime -1 2>/dev/null | head -n 1)" ]; then
        as_root apt-get update -q
    fi
    say "installing$missing"
    # shellcheck disable=SC2086  # one word per package
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing
}

# setup_venv MODE SPEC: (re)install the project into .venv unless nothing that shapes the install changed since
# the last one for MODE: setup.cfg, pyproject.toml, or the set of top-level packages (an editable install maps
# only the packages that existed when it ran). Editable in both modes, so everything runs the code in this tree.
setup_venv() {
    python_ready || { say "python3 >= 3.11 with venv is required; found: $(python3 --version 2>&1)"; exit 1; }
    [ -x .venv/bin/python ] || python3 -m venv .venv
    stamp=".venv/.bootstrap-$1"
    want="$({ cat setup.cfg pyproject.toml; ls -d -- */__init__.py; } | cksum)"
    if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
        .venv/bin/python -m pip install -q -e "$2"
        printf '%s\n' "$want" >"$stamp"
    fi
}

mode="${1:-}"
[ $# -gt 0 ] && shift
case $mode in
    demo)
        apt_install $DEMO_APT
        setup_venv demo .
        exec .venv/bin/hotline demo
        ;;
    test)
        apt_install $TEST_APT
        setup_venv test '.[test]'
        status=0
        .venv/bin/pytest "$@" || status=$?
        # pytest's 5 means "no tests collected": a run that tested nothing is a failure, and says so.
        [ "$status" -ne 5 ] || say "pytest collected no tests: failing"
        exit "$status"
        ;;
    *)
        say "usage: sh bootstrap.sh demo | sh bootstrap.sh test [pytest arguments]"
        exit 2
        ;;
esac
