#!/usr/bin/env bash
# A real browser for tests/test_web.py: Debian's chromium at /usr/bin/chromium (Playwright's
# own browser download does not work on these machines). Does nothing when it is installed.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
sudo_=""
if [ "$(id -u)" != 0 ]; then sudo_="sudo"; fi
$sudo_ apt-get update -qq
$sudo_ apt-get install -y -qq --no-install-recommends chromium >/dev/null
test -x /usr/bin/chromium
