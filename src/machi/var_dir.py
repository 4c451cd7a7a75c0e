"""The local state directory ``var/`` (SQLite database, attachments, mail, test keys).

Kept free of Django imports: ``settings`` reads the development secret key through it, and the
entry points (``python -m machi``, ``machi.wsgi``) call :func:`prepare_var_dir` before Django
starts, so importing the settings writes nothing. Everything created here is for the owner only
(directories 0700, files 0600): the database and attachments hold residents' personal data.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[2]
SECRET_KEY_FILE = "secret_key"  # noqa: S105 (a file name)
SQLITE_FILE = "machi.sqlite3"
DIRECTORY_MODE = 0o700
FILE_MODE = 0o600


def var_dir_path() -> Path:
    """``MACHI_VAR_DIR``, or ``var/`` in the project directory."""
    return Path(os.environ.get("MACHI_VAR_DIR", PROJECT_DIR / "var"))


def development_secret_key(var_dir: Path) -> str:
    """The per-machine key kept in ``var/secret_key`` (outside production only).

    Only reads: when the file is missing (settings imported by a tool or a test without the
    entry point), a key for this process alone is returned and nothing is written.
    """
    key_file = var_dir / SECRET_KEY_FILE
    if key_file.is_file():
        key = key_file.read_text(encoding="utf-8").strip()
        if key:
            return key
    return secrets.token_urlsafe(50)


def _private_directory(path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True, mode=DIRECTORY_MODE)
    path.chmod(DIRECTORY_MODE)  # an existing directory may have been created wider


def _private_file(path: Path) -> None:
    # O_CREAT with the mode: the file never exists with wider permissions, even briefly.
    descriptor = os.open(path, os.O_CREAT | os.O_WRONLY, FILE_MODE)
    os.close(descriptor)
    path.chmod(FILE_MODE)


def _sqlite_path(database_url: str, var_dir: Path) -> Path | None:
    if not database_url:
        return var_dir / SQLITE_FILE
    if database_url.startswith("sqlite:///"):
        name = database_url.removeprefix("sqlite:///")
        return Path(name) if name and name != ":memory:" else None
    return None


def prepare_var_dir(
    *,
    var_dir: Path | None = None,
    database_url: str | None = None,
    create_secret_key: bool | None = None,
) -> Path:
    """Create ``var/`` and what lives in it, owner-only; tighten what exists. Returns ``var/``.

    Defaults come from the environment, as the settings read it: ``MACHI_VAR_DIR``,
    ``MACHI_DATABASE_URL`` (its SQLite file and the ``-wal``/``-shm`` files next to it, which
    SQLite creates with the database's mode) and the development secret key unless
    ``MACHI_SECRET_KEY`` is set or ``MACHI_PRODUCTION`` is on.
    """
    var_dir = var_dir or var_dir_path()
    if database_url is None:
        database_url = os.environ.get("MACHI_DATABASE_URL", "")
    production = os.environ.get("MACHI_PRODUCTION", "").strip().lower() in {
        "1",
        "true",
        "yes",
        "on",
    }
    if create_secret_key is None:
        create_secret_key = not production and not (
            os.environ.get("MACHI_SECRET_KEY") or os.environ.get("MACHI_SECRET_KEY" + "_FILE")
        )
    _private_directory(var_dir)
    for sub in ("mail",):
        _private_directory(var_dir / sub)
    if not production:
        # Served from the apps' folders outside production; WhiteNoise wants the root to exist.
        Path(os.environ.get("MACHI_STATIC_ROOT", var_dir / "static")).mkdir(
            parents=True, exist_ok=True
        )
    if create_secret_key:
        key_file = var_dir / SECRET_KEY_FILE
        if not key_file.exists() or not key_file.read_text(encoding="utf-8").strip():
            _private_file(key_file)
            key_file.write_text(secrets.token_urlsafe(50), encoding="utf-8")
        key_file.chmod(FILE_MODE)
    database = _sqlite_path(database_url, var_dir)
    if database is not None:
        if not database.parent.exists():  # never tighten a directory Machi does not own
            database.parent.mkdir(parents=True, mode=DIRECTORY_MODE)
        _private_file(database)
        for suffix in ("-wal", "-shm", "-journal"):
            companion = database.with_name(database.name + suffix)
            if companion.exists():
                companion.chmod(FILE_MODE)
    return var_dir
