#!/usr/bin/env bash
# Install what the tests need and run the whole suite (lint included).
# Used as is by CI (.ci/run) and by developers: bash scripts/test.sh [pytest args]
#
# Needs: Python >= 3.11 with pip; Node.js and npm (the web explorer's front-end libraries);
# on Debian/Ubuntu, root or sudo when PostgreSQL or Chromium must be installed with apt-get.
# The suite runs on SQLite and on a throw-away PostgreSQL cluster it starts itself, and drives
# a real Chromium for the web pages. Tests on data that is not shipped (../shared/data beside
# the clone) skip with their reason when it is absent.
# FILIATION_TEST_NO_INSTALL=1 skips the pip install (the package is already installed).
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
python - <<'PY' || missing+=("Python >= 3.11 with pip (found: $(python --version 2>&1))")
import sys, importlib.util
sys.exit(0 if sys.version_info >= (3, 11) and importlib.util.find_spec("pip") else 1)
PY
command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 \
    || missing+=("Node.js and npm, for the web explorer's libraries (Debian: apt-get install nodejs npm)")
need_apt=()
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || need_apt+=(postgresql)
[ -x /usr/bin/chromium ] || need_apt+=(chromium)
if [ ${#need_apt[@]} -gt 0 ]; then
    if ! command -v apt-get >/dev/null 2>&1; then
        missing+=("${need_apt[*]}: not installed, and no apt-get to install them (install them, Chromium at /usr/bin/chromium)")
    elif [ "$(id -u)" -ne 0 ] && ! command -v sudo >/dev/null 2>&1; then
        missing+=("root or sudo, to apt-get install ${need_apt[*]}")
    fi
fi
if [ ${#missing[@]} -gt 0 ]; then
    echo "scripts/test.sh: cannot run the tests; missing:" >&2
    printf '  - %s\n' "${missing[@]}" >&2
    exit 2
fi

if [ ${#need_apt[@]} -gt 0 ]; then
    echo "installing ${need_apt[*]} (apt-get) for the tests" >&2
    sudo=""
    if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get update -qq
    $sudo apt-get install -y -qq --no-install-recommends "${need_apt[@]}" > /dev/null
fi

# The web explorer's front-end libraries (npm ci from the lock file; nothing when present).
bash scripts/setup-web.sh

if [ -z "${FILIATION_TEST_NO_INSTALL:-}" ]; then
    python -m pip install --quiet --disable-pip-version-check -e '.[test]'
fi
python -m ruff check .
python -m ruff format --check .
python -m pytest "$@"
