"""Build hook: the wheel carries the web explorer's graph libraries, installed from npm.

The libraries (Cytoscape.js, elkjs; sigma.js and graphology for large drawings) are pinned
by ``src/filiation/web/package-lock.json`` and never copied into the repository;
``node_modules`` is git-ignored. So that ``pip install .`` from a fresh clone gives an
explorer with graphs, building a wheel runs
``scripts/setup-web.sh`` (``npm ci`` from the lock file, nothing when already installed) and
packages the browser builds. Without npm the build stops with a message saying what to install;
``FILIATION_WITHOUT_GRAPH=1`` builds a wheel without the graph (its pages then say how to add
it). An editable install only warns: a checkout can run the script later.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

WEB = Path("src") / "filiation" / "web"
#: The browser builds the explorer serves (filiation.web.pages.VENDOR), relative to WEB.
ASSETS = (
    "node_modules/cytoscape/dist/cytoscape.min.js",
    "node_modules/elkjs/lib/elk.bundled.js",
    "node_modules/sigma/dist/sigma.min.js",
    "node_modules/graphology/dist/graphology.umd.min.js",
)
#: Their licences (MIT, EPL-2.0, MIT, MIT), shipped beside them.
LICENCES = (
    "node_modules/cytoscape/LICENSE",
    "node_modules/elkjs/LICENSE.md",
    "node_modules/sigma/LICENSE.txt",
    "node_modules/graphology/LICENSE.txt",
)


class CustomBuildHook(BuildHookInterface):  # type: ignore[type-arg]
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name != "wheel" or os.environ.get("FILIATION_WITHOUT_GRAPH") == "1":
            return
        root = Path(self.root)
        missing = [a for a in ASSETS if not (root / WEB / a).is_file()]
        if missing:
            problem = self._install(root)
            if problem:
                if version == "editable":
                    self.app.display_warning(f"filiation: no graph in the explorer: {problem}")
                    return
                raise RuntimeError(f"filiation: cannot build the web explorer's graph: {problem}")
        if version == "editable":
            # An editable install serves the assets from the checkout: copying them into
            # site-packages would make a stray ``filiation/`` folder there, a namespace
            # package that outlives the install and shadows the checkout.
            return
        for asset in ASSETS + LICENCES:
            build_data["force_include"][str(root / WEB / asset)] = f"filiation/web/{asset}"

    def _install(self, root: Path) -> str | None:
        """Run scripts/setup-web.sh; what went wrong, or None."""
        if shutil.which("npm") is None:
            return (
                "npm is missing. Install Node.js and npm (Debian/Ubuntu: apt-get install nodejs "
                "npm; others: https://nodejs.org), then build again; or set "
                "FILIATION_WITHOUT_GRAPH=1 to build without the graph."
            )
        done = subprocess.run(
            ["bash", str(root / "scripts" / "setup-web.sh")], capture_output=True, text=True
        )
        if done.returncode != 0:
            return f"scripts/setup-web.sh failed:\n{done.stderr.strip()}"
        return None
