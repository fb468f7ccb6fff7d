#!/usr/bin/env bash
# Installs wrk, the HTTP load generator benchmarks/load.py drives (Debian package).
set -euo pipefail
if command -v wrk >/dev/null; then exit 0; fi
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
$SUDO apt-get install -y wrk || { $SUDO apt-get update && $SUDO apt-get install -y wrk; }
