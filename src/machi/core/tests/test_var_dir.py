"""``var/`` is owner-only, and importing the settings creates nothing."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

from machi.var_dir import development_secret_key, prepare_var_dir


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_prepare_creates_owner_only_directory_database_and_key(tmp_path):
    var = tmp_path / "var"
    prepare_var_dir(var_dir=var, database_url="", create_secret_key=True)
    assert _mode(var) == 0o700
    assert _mode(var / "mail") == 0o700
    assert _mode(var / "machi.sqlite3") == 0o600
    assert _mode(var / "secret_key") == 0o600
    key = (var / "secret_key").read_text(encoding="utf-8")
    assert len(key) >= 50
    assert development_secret_key(var) == key


def test_prepare_tightens_what_was_created_wider(tmp_path):
    var = tmp_path / "var"
    var.mkdir(mode=0o755)
    var.chmod(0o755)
    database = var / "machi.sqlite3"
    database.write_bytes(b"")
    database.chmod(0o644)
    wal = var / "machi.sqlite3-wal"
    wal.write_bytes(b"")
    wal.chmod(0o644)
    (var / "secret_key").write_text("kept-key", encoding="utf-8")
    (var / "secret_key").chmod(0o644)
    prepare_var_dir(var_dir=var, database_url="", create_secret_key=True)
    assert [_mode(p) for p in (var, database, wal, var / "secret_key")] == [
        0o700,
        0o600,
        0o600,
        0o600,
    ]
    assert (var / "secret_key").read_text(encoding="utf-8") == "kept-key"  # not replaced


def test_prepare_leaves_a_shared_parent_of_an_external_database_alone(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o755)
    prepare_var_dir(
        var_dir=tmp_path / "var",
        database_url=f"sqlite:///{shared / 'db.sqlite3'}",
        create_secret_key=False,
    )
    assert _mode(shared) == 0o755
    assert _mode(shared / "db.sqlite3") == 0o600
    assert not (tmp_path / "var" / "secret_key").exists()


def test_sqlite_database_created_by_the_entry_point_is_owner_only(tmp_path):
    var = tmp_path / "var"
    env = {
        **os.environ,
        "MACHI_VAR_DIR": str(var),
        "MACHI_DATABASE_URL": "",
        "MACHI_TEST_DATABASE_URL": "",
        "MACHI_SECRET_KEY": "",
        "MACHI_PRODUCTION": "0",
    }
    subprocess.run(
        [sys.executable, "-m", "machi", "migrate", "--noinput", "-v", "0", "core"],
        env=env,
        check=True,
        capture_output=True,
        timeout=300,
    )
    files = {p.name: _mode(p) for p in var.iterdir() if p.is_file()}
    assert files["machi.sqlite3"] == 0o600
    assert files["secret_key"] == 0o600
    assert all(mode == 0o600 for name, mode in files.items() if name.startswith("machi.sqlite3"))
    assert _mode(var) == 0o700


def test_importing_the_settings_writes_no_files(tmp_path):
    var = tmp_path / "not-yet"
    env = {
        **os.environ,
        "MACHI_VAR_DIR": str(var),
        "MACHI_DATABASE_URL": "",
        "MACHI_SECRET_KEY": "",
        "MACHI_PRODUCTION": "0",
        "DJANGO_SETTINGS_MODULE": "machi.settings",
    }
    code = "import django; django.setup(); from django.conf import settings; print(len(settings.SECRET_KEY))"
    result = subprocess.run(  # noqa: S603
        [sys.executable, "-c", code], env=env, check=True, capture_output=True, timeout=120
    )
    assert int(result.stdout) >= 50
    assert not var.exists()


def test_the_entry_points_create_the_static_root_whitenoise_reads(tmp_path, monkeypatch, settings):
    """A fresh checkout served through ``python -m machi``/``machi.wsgi`` warns nothing: the
    test run itself writes no var/ and silences only that one warning (pyproject.toml)."""
    import warnings

    from whitenoise.middleware import WhiteNoiseMiddleware

    monkeypatch.delenv("MACHI_STATIC_ROOT", raising=False)
    monkeypatch.delenv("MACHI_PRODUCTION", raising=False)
    var = tmp_path / "var"
    prepare_var_dir(var_dir=var, database_url="", create_secret_key=False)
    assert (var / "static").is_dir()
    settings.STATIC_ROOT = var / "static"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        WhiteNoiseMiddleware(get_response=lambda request: None)
    settings.STATIC_ROOT = tmp_path / "missing"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        WhiteNoiseMiddleware(get_response=lambda request: None)
    assert [str(w.message) for w in caught] == [f"No directory at: {tmp_path / 'missing'}/"]
