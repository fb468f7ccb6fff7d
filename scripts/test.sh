#!/usr/bin/env bash
# Install what the tests need and run the whole suite (lint included).
# Used as is by CI (.ci/run) and by developers: bash scripts/test.sh [pytest args]
# The suite runs on SQLite and on a throw-away PostgreSQL cluster it starts itself, so
# PostgreSQL's server is installed from Debian's packages when it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! compgen -G "/usr/lib/postgresql/*/bin/initdb" > /dev/null; then
    echo "installing PostgreSQL (apt-get install postgresql) for the tests" >&2
    sudo=""
    if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get update -qq
    $sudo apt-get install -y -qq --no-install-recommends postgresql > /dev/null
fi

# The web explorer's tests need its front-end library (npm) and a real browser (Debian's
# chromium); both scripts do nothing when those are already there.
bash scripts/setup-web.sh
bash scripts/setup-browser.sh

python -m pip install --quiet --disable-pip-version-check -e '.[test]'
python -m ruff check .
python -m pytest "$@"
