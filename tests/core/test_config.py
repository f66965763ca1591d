"""Settings: defaults < TOML < HERON_* < flags, and bad values named."""

from __future__ import annotations

from pathlib import Path

import pytest

from heron.config import ConfigError, Settings, load_settings


def test_defaults_are_the_embedded_mode() -> None:
    s = load_settings(environ={})
    assert s == Settings()
    assert s.meta_database_url.startswith("sqlite:///") and s.meta_database_url.endswith("data/meta.sqlite3")


def test_each_layer_overrides_the_one_before(tmp_path: Path) -> None:
    cfg = tmp_path / "heron.toml"
    cfg.write_text('[heron]\nlisten = "127.0.0.1:9000"\ndata_dir = "/from/toml"\nmax_body_bytes = 1000\n')
    s = load_settings(config_file=cfg, environ={"HERON_DATA_DIR": "/from/env"})
    assert (s.listen, s.data_dir, s.max_body_bytes) == ("127.0.0.1:9000", Path("/from/env"), 1000)
    s = load_settings(config_file=cfg, environ={"HERON_DATA_DIR": "/from/env"}, overrides={"data_dir": "/from/flag"})
    assert s.data_dir == Path("/from/flag")


def test_secrets_can_come_from_files_and_are_masked(tmp_path: Path) -> None:
    secret = tmp_path / "pw"
    secret.write_text("s3cret-value\n")
    s = load_settings(environ={"HERON_ADMIN_PASSWORD_FILE": str(secret)})
    assert s.admin_password == "s3cret-value"
    shown = dict((k, v) for k, v, _ in s.public_items())
    assert shown["admin_password"] == "********"


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"HERON_MAX_BODY_BYTES": "lots"}, "HERON_MAX_BODY_BYTES"),
        ({"HERON_LISTEN": "nowhere"}, "listen"),
        ({"HERON_LOG_LEVEL": "loud"}, "log_level"),
        ({"HERON_DEFAULT_TTL": "forever-ish"}, "default_ttl"),
        ({"HERON_MAX_RESULT_ROWS": "0"}, "max_result_rows"),
    ],
)
def test_bad_values_stop_the_start_naming_the_key(environ: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(environ=environ)


def test_unknown_keys_in_the_file_are_errors(tmp_path: Path) -> None:
    cfg = tmp_path / "heron.toml"
    cfg.write_text("lisen = '127.0.0.1:1'\n")
    with pytest.raises(ConfigError, match="unknown setting 'lisen'"):
        load_settings(config_file=cfg, environ={})
