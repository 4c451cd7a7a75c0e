"""A cache shared by the processes of one machine, in files (the embedded default's ``auth`` cache).

Without ``MACHI_REDIS_URL`` each process has its own memory cache, so sessions and the sign-in
state's invalidation tokens (``core.auth_cache``) are kept here instead: every worker process of
the demo server reads and writes the same directory under ``var/``. An installation on more than
one machine sets ``MACHI_REDIS_URL``.
"""

from __future__ import annotations

import time
from typing import Any

from django.core.cache.backends.filebased import FileBasedCache


class SharedFileCache(FileBasedCache):
    """Django's file cache, culling at most once a minute and the expired entries first.

    Django's lists the whole directory on every write to decide whether to cull; with thousands
    of sessions that costs each sign-in milliseconds. Losing an entry is harmless here: sessions
    are ``cached_db`` (read again from the database) and a missing token only causes a reload.
    """

    cull_interval_seconds = 60.0

    def __init__(self, dir: str, params: dict[str, Any]) -> None:
        super().__init__(dir, params)
        self._next_cull = 0.0

    def _cull(self) -> None:
        # Expired entries are deleted as they are read (``_is_expired``).
        now = time.monotonic()
        if now < self._next_cull:
            return
        self._next_cull = now + self.cull_interval_seconds
        paths = self._list_cache_files()  # type: ignore[attr-defined]
        if len(paths) < self._max_entries:
            return
        kept = 0
        for path in paths:
            try:
                with open(path, "rb") as handle:
                    kept += not self._is_expired(handle)  # type: ignore[attr-defined]
            except FileNotFoundError:
                continue
        if kept >= self._max_entries:
            super()._cull()  # type: ignore[misc]
