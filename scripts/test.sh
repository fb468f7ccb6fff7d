#!/usr/bin/env bash
# Install what the tests need and run the whole suite (lint included).
# Used as is by CI (.ci/run) and by developers: bash scripts/test.sh [pytest args]
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install --quiet --disable-pip-version-check -e '.[test]'
python -m ruff check .
python -m pytest "$@"
