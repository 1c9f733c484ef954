"""root: a side service that warns at start when the root directory is missing."""

from __future__ import annotations

import os

import structlog

from kdns.plugins.base import Plugin
from kdns.plugins.root.config import RootConfig

log = structlog.get_logger("plugin/root")


class Root(Plugin[RootConfig]):
    """Holds the block's root; never sees a query (plugins read it through BuildContext)."""

    name = "root"

    async def start(self) -> None:
        """Warn when the directory does not exist (it may appear later), as CoreDNS does."""
        path = self.configs[-1].path
        if not os.path.exists(path):
            log.warning(f"Root path does not exist: {path}")
