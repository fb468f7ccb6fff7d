#!/usr/bin/env bash
# Install the web explorer's front-end libraries (cytoscape, elkjs, sigma, graphology) from the npm registry into
# src/filiation/web/node_modules, exactly as pinned by package-lock.json. Idempotent and quiet:
# nothing is done when every package of the lock file is already installed at its version.
set -euo pipefail
cd "$(dirname "$0")/../src/filiation/web"
if ! command -v npm >/dev/null 2>&1; then
  echo "setup-web: npm is missing (Debian: apt-get install -y nodejs npm)" >&2
  exit 1
fi
if node -e '
  const fs = require("fs");
  const want = JSON.parse(fs.readFileSync("package-lock.json")).packages || {};
  for (const [dir, info] of Object.entries(want)) {
    if (!dir) continue;
    const have = JSON.parse(fs.readFileSync(dir + "/package.json"));
    if (have.version !== info.version) process.exit(1);
  }' 2>/dev/null && [ -f node_modules/cytoscape/dist/cytoscape.min.js ] \
  && [ -f node_modules/elkjs/lib/elk.bundled.js ] \
  && [ -f node_modules/sigma/dist/sigma.min.js ] \
  && [ -f node_modules/graphology/dist/graphology.umd.min.js ]; then
  exit 0
fi
npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null
test -f node_modules/cytoscape/dist/cytoscape.min.js
test -f node_modules/elkjs/lib/elk.bundled.js
test -f node_modules/sigma/dist/sigma.min.js
test -f node_modules/graphology/dist/graphology.umd.min.js
