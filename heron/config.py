"""One typed configuration: defaults < TOML file < ``HERON_*`` environment < command-line flags.

No other module reads ``os.environ``: the settings object is built once here and passed down.
Every field has a type, a default, its unit in its name where it has one, and a help line;
``heron config show`` and docs/configuration.md are generated from the same table.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

#: Fields whose values are masked wherever the configuration is shown.
SECRET_FIELDS = frozenset({"admin_password", "meta_url", "push_basic_auth", "alertmanager_urls"})


class ConfigError(Exception):
    """A configuration value that cannot be used; the message names key, value and what is allowed."""


def _help(text: str) -> dict[str, str]:
    return {"help": text}


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything that can be configured, with the defaults of the embedded mode."""

    data_dir: Path = field(default=Path("data"), metadata=_help("where metadata and time series live"))
    listen: str = field(
        default="127.0.0.1:8902", metadata=_help("HOST:PORT to serve HTTP on; port 0 picks a free port")
    )
    meta_url: str = field(
        default="",
        metadata=_help("SQLAlchemy URL of the metadata database; empty means SQLite in the data directory"),
    )
    admin_password: str = field(
        default="",
        metadata=_help("password for the 'admin' user created on first start; empty means a random one, printed once"),
    )
    max_body_bytes: int = field(
        default=64 * 1024 * 1024, metadata=_help("largest request body accepted, after decompression")
    )
    max_write_queue_rows: int = field(
        default=2_000_000, metadata=_help("rows waiting for the writer before new writes get 429")
    )
    max_commit_rows: int = field(
        default=200_000, metadata=_help("most rows the writer logs in one group commit (one fsync)")
    )
    max_inflight_write_bytes: int = field(
        default=8 * 1024 * 1024,
        metadata=_help(
            "body bytes that write requests in progress may hold (compressed bodies count 8x); more wait their turn"
        ),
    )
    write_admission_wait_seconds: float = field(
        default=10.0,
        metadata=_help(
            "longest a write waits for room before it is answered 429 (503 on remote write) with Retry-After"
        ),
    )
    tsdb_flush_interval_seconds: float = field(
        default=1.0,
        metadata=_help("longest time acknowledged rows wait in the write-ahead log before DuckDB gets them"),
    )
    tsdb_flush_rows: int = field(
        default=1_000_000, metadata=_help("rows waiting in the write-ahead log that make the writer apply them at once")
    )
    query_timeout_seconds: float = field(default=30.0, metadata=_help("time limit of one SQL query"))
    max_result_bytes: int = field(
        default=256 * 1024 * 1024, metadata=_help("largest SQL result returned (not chunked); chunked results stream")
    )
    max_result_rows: int = field(default=10_000_000, metadata=_help("most rows one SQL query may return"))
    duckdb_memory_limit: str = field(
        default="", metadata=_help("DuckDB memory limit such as '4GB'; empty means DuckDB's default")
    )
    duckdb_checkpoint_wal_size: str = field(
        default="128MB",
        metadata=_help(
            "WAL size that triggers a checkpoint; larger means faster ingest and a longer restart after a crash"
        ),
    )
    duckdb_threads: int = field(default=0, metadata=_help("DuckDB worker threads; 0 means one per core"))
    # -- storage engine: compaction (issue 17) --
    compaction_enabled: bool = field(
        default=True, metadata=_help("rewrite settled time windows sorted by series and time (see docs/storage.md)")
    )
    compaction_window_seconds: float = field(
        default=3600.0, metadata=_help("span of data time one compaction window covers")
    )
    compaction_delay_seconds: float = field(
        default=30.0, metadata=_help("a window is compacted once it has received no rows for this long")
    )
    compaction_merge_window_seconds: float = field(
        default=0.0,
        metadata=_help(
            "span of the second compaction level: its compacted windows are merged into one sorted run; 0 turns it off"
        ),
    )
    compaction_merge_delay_seconds: float = field(
        default=3600.0, metadata=_help("a merge window is rewritten once none of its windows has changed for this long")
    )
    compaction_max_step_rows: int = field(
        default=1_000_000, metadata=_help("most rows one compaction step rewrites; larger windows are split in time")
    )
    compaction_at_shutdown_seconds: float = field(
        default=0.0,
        metadata=_help(
            "time a clean shutdown may spend compacting windows still waiting (0: they wait for the next start)"
        ),
    )
    retention_interval_seconds: float = field(default=60.0, metadata=_help("how often expired data is deleted"))
    default_ttl: str = field(
        default="INF", metadata=_help("TTL of databases created without one ('INF' keeps data forever)")
    )
    auth_cache_seconds: float = field(
        default=60.0,
        metadata=_help("how long a verified Basic credential is remembered, so ingest does not pay Argon2 per request"),
    )
    push_enabled: bool = field(
        default=True,
        metadata=_help(
            "serve the agent push routes (OpenTSDB, Open-Falcon, remote write, Datadog, logs, traces); off answers 404"
        ),
    )
    push_basic_auth: str = field(
        default="",
        metadata=_help("extra 'user:password' pairs, comma-separated, accepted on push routes besides Heron users"),
    )
    push_open: bool = field(
        default=False,
        metadata=_help("accept pushes without credentials (Nightingale's open mode); never on by default"),
    )
    host_offline_seconds: float = field(default=180.0, metadata=_help("a host not seen for this long is shown offline"))
    log_level: str = field(default="info", metadata=_help("debug, info, warning or error"))
    session_ttl_seconds: float = field(
        default=86400.0, metadata=_help("how long a login (JWT or UI session cookie) lasts unless refreshed")
    )
    login_attempts_per_minute: int = field(
        default=10, metadata=_help("logins allowed per minute from one address and for one username, right or wrong")
    )
    auth_max_failures: int = field(
        default=10,
        metadata=_help("wrong passwords, tokens or API keys from one address within the window that ban it"),
    )
    auth_failure_window_seconds: float = field(
        default=600.0, metadata=_help("window in which failures count towards a ban")
    )
    auth_ban_seconds: float = field(default=900.0, metadata=_help("how long a banned address stays banned"))
    real_ip_header: str = field(
        default="",
        metadata=_help("client-address header set by a trusted reverse proxy (e.g. X-Real-IP); empty uses the peer"),
    )
    cookie_secure: bool = field(
        default=False, metadata=_help("mark the session cookie Secure on plain HTTP too (behind a TLS proxy)")
    )
    # -- service monitors (heron.probes) ------------------------------------------------------
    probe_concurrency: int = field(
        default=512, metadata=_help("most monitor checks the server runs at once; later ones wait their turn")
    )
    probe_node_name: str = field(
        default="", metadata=_help("name of this Heron node as a monitors' vantage point; empty means the host name")
    )
    probe_private_targets_for_members: bool = field(
        default=True,
        metadata=_help("let members point monitors at private, loopback and link-local addresses (admins always may)"),
    )
    # -- web UI and status pages --------------------------------------------------------------
    status_cache_seconds: float = field(
        default=30.0,
        metadata=_help("how long a drawn public status page is kept; a traffic spike costs one drawing per period"),
    )

    # -- alerts and notifications (issue 13) --------------------------------------------------
    alert_eval_interval_seconds: float = field(
        default=1.0, metadata=_help("how often server rules are evaluated over the live state")
    )
    alert_delivery_poll_seconds: float = field(
        default=0.5, metadata=_help("how often the delivery worker looks for due notifications")
    )
    alert_retry_base_seconds: float = field(
        default=2.0, metadata=_help("wait before the first retry of a failed notification; doubled per try")
    )
    alert_retry_max_seconds: float = field(default=300.0, metadata=_help("longest wait between two tries"))
    alert_delivery_max_age_seconds: float = field(
        default=86400.0, metadata=_help("a notification not delivered within this time is marked expired")
    )
    alert_flap_changes: int = field(
        default=6, metadata=_help("changes of an alert's condition within the flap window that mark it flapping")
    )
    alert_flap_window_seconds: float = field(default=600.0, metadata=_help("the window flapping is counted in"))
    alertmanager_urls: str = field(
        default="",
        metadata=_help("Alertmanager base URLs, comma-separated, that firing and resolved alerts are posted to"),
    )
    alertmanager_resend_seconds: float = field(
        default=60.0, metadata=_help("how often firing alerts are posted to Alertmanager again (Prometheus: 1 m)")
    )
    external_url: str = field(
        default="", metadata=_help("Heron's address as users reach it; links in alerts (generatorURL) use it")
    )
    # --- PromQL, the Prometheus API and Heron's own metrics (issue 15) ---
    promql_lookback_delta_seconds: float = field(
        default=300.0, metadata=_help("how far back PromQL looks for a series' latest sample (Prometheus: 5m)")
    )
    promql_max_samples: int = field(
        default=50_000_000, metadata=_help("most samples one PromQL query may read before it is refused (422)")
    )
    promql_max_points_per_series: int = field(
        default=11_000, metadata=_help("most steps a range query may have, (end - start) / step (Prometheus: 11,000)")
    )
    self_metrics_interval_seconds: float = field(
        default=0.0,
        metadata=_help("store Heron's own metrics in database 'public' this often (0 is off), to alert on them"),
    )
    # -- remote operations (cron, terminal, files, NAT, DDNS, MCP) --------------------------------
    ops_command_timeout_seconds: float = field(
        default=3600.0, metadata=_help("longest a cron or MCP command runs on an agent before it is killed")
    )
    ops_terminal_idle_seconds: float = field(
        default=900.0, metadata=_help("a web terminal or file session with no traffic for this long is closed")
    )
    ops_session_attach_seconds: float = field(
        default=60.0, metadata=_help("how long a terminal or file session waits for its WebSocket after it is created")
    )
    ops_reserved_hosts: str = field(
        default="",
        metadata=_help("Heron's public host names, comma-separated: never accepted as NAT domains (besides its own)"),
    )
    ops_ddns_private_targets: bool = field(
        default=False,
        metadata=_help("let DDNS webhooks and RFC 2136 servers be loopback or private addresses (a LAN DNS server)"),
    )

    def public_items(self) -> list[tuple[str, str, str]]:
        """(key, value, help) for display, secrets masked."""
        out = []
        for f in fields(self):
            value = getattr(self, f.name)
            shown = "********" if f.name in SECRET_FIELDS and value else str(value)
            out.append((f.name, shown, f.metadata.get("help", "")))
        return out

    @property
    def meta_database_url(self) -> str:
        """The metadata URL actually used: the configured one or SQLite in the data directory."""
        return self.meta_url or f"sqlite:///{(self.data_dir / 'meta.sqlite3').resolve()}"

    @property
    def tsdb_path(self) -> Path:
        return self.data_dir / "tsdb" / "heron.duckdb"

    def listen_host_port(self) -> tuple[str, int]:
        host, _, port = self.listen.rpartition(":")
        return host.strip("[]") or "127.0.0.1", int(port)


_LOG_LEVELS = ("debug", "info", "warning", "error")


def _coerce(name: str, raw: Any, target: Any) -> Any:
    """Convert a TOML or environment value to the field's type, or explain why not."""
    try:
        if target is Path or target == "Path":
            return Path(str(raw)).expanduser()
        if target is bool or target == "bool":
            if isinstance(raw, bool):
                return raw
            text = str(raw).strip().lower()
            if text in ("1", "true", "yes", "on"):
                return True
            if text in ("0", "false", "no", "off"):
                return False
            raise ValueError
        if target is int or target == "int":
            if isinstance(raw, bool):
                raise ValueError
            return int(raw)
        if target is float or target == "float":
            return float(raw)
        return str(raw)
    except ValueError:
        raise ConfigError(f"invalid value for '{name}': {raw!r} is not a valid {target}") from None


def _validate(settings: Settings) -> Settings:
    if settings.log_level not in _LOG_LEVELS:
        raise ConfigError(f"invalid value for 'log_level': {settings.log_level!r}; allowed: {', '.join(_LOG_LEVELS)}")
    host, _, port = settings.listen.rpartition(":")
    if not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ConfigError(f"invalid value for 'listen': {settings.listen!r}; expected HOST:PORT such as 127.0.0.1:8902")
    for name in (
        "max_body_bytes",
        "max_write_queue_rows",
        "max_commit_rows",
        "max_result_bytes",
        "max_result_rows",
        "max_inflight_write_bytes",
        "compaction_max_step_rows",
    ):
        if getattr(settings, name) <= 0:
            raise ConfigError(f"invalid value for '{name}': {getattr(settings, name)}; it must be positive")
    if settings.probe_concurrency <= 0:
        raise ConfigError(f"invalid value for 'probe_concurrency': {settings.probe_concurrency}; it must be positive")
    for name in (
        "session_ttl_seconds",
        "login_attempts_per_minute",
        "auth_max_failures",
        "auth_failure_window_seconds",
        "auth_ban_seconds",
    ):
        if getattr(settings, name) <= 0:
            raise ConfigError(f"invalid value for '{name}': {getattr(settings, name)}; it must be positive")
    if settings.status_cache_seconds < 0:
        raise ConfigError(f"invalid value for 'status_cache_seconds': {settings.status_cache_seconds}; it must be >= 0")
    for name in (
        "alert_eval_interval_seconds",
        "alert_delivery_poll_seconds",
        "alert_retry_base_seconds",
        "alert_retry_max_seconds",
        "alert_delivery_max_age_seconds",
        "alert_flap_changes",
        "alert_flap_window_seconds",
        "alertmanager_resend_seconds",
    ):
        if getattr(settings, name) <= 0:
            raise ConfigError(f"invalid value for '{name}': {getattr(settings, name)}; it must be positive")
    for url in filter(None, (u.strip() for u in settings.alertmanager_urls.split(","))):
        if not url.startswith(("http://", "https://")):
            raise ConfigError("invalid value for 'alertmanager_urls': each entry must be an http:// or https:// URL")
    for name in ("promql_lookback_delta_seconds", "promql_max_samples", "promql_max_points_per_series"):
        if getattr(settings, name) <= 0:
            raise ConfigError(f"invalid value for '{name}': {getattr(settings, name)}; it must be positive")
    if settings.self_metrics_interval_seconds < 0:
        raise ConfigError("invalid value for 'self_metrics_interval_seconds': it must be 0 (off) or positive")
    for name in ("ops_command_timeout_seconds", "ops_terminal_idle_seconds", "ops_session_attach_seconds"):
        if getattr(settings, name) <= 0:
            raise ConfigError(f"invalid value for '{name}': {getattr(settings, name)}; it must be positive")
    if settings.compaction_window_seconds < 1:
        raise ConfigError(
            f"invalid value for 'compaction_window_seconds': {settings.compaction_window_seconds}; it must be 1 or more"
        )
    if settings.compaction_delay_seconds < 0 or settings.compaction_at_shutdown_seconds < 0:
        raise ConfigError(
            "invalid value for 'compaction_delay_seconds' or 'compaction_at_shutdown_seconds': it must be 0 or more"
        )
    if settings.query_timeout_seconds <= 0:
        raise ConfigError("invalid value for 'query_timeout_seconds': it must be positive")
    if settings.write_admission_wait_seconds < 0:
        raise ConfigError("invalid value for 'write_admission_wait_seconds': it must be 0 or more")
    from heron.core.errors import BadRequest
    from heron.core.timeprec import parse_duration_seconds

    try:
        parse_duration_seconds(settings.default_ttl)
    except BadRequest as exc:
        raise ConfigError(f"invalid value for 'default_ttl': {exc}") from None
    return settings


def load_settings(
    *,
    config_file: Path | None = None,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Build the settings: defaults, then the TOML file, then ``HERON_*``, then ``overrides``."""
    env = os.environ if environ is None else environ
    types = {f.name: f.type for f in fields(Settings)}
    values: dict[str, Any] = {}

    path = config_file or (Path(env["HERON_CONFIG"]) if env.get("HERON_CONFIG") else None)
    if path is not None:
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"config file {path} does not exist") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
        section = data.get("heron", data)
        for key, raw in section.items():
            if key not in types:
                raise ConfigError(f"unknown setting '{key}' in {path}; known: {', '.join(sorted(types))}")
            values[key] = _coerce(key, raw, types[key])

    for name, target in types.items():
        env_key = f"HERON_{name.upper()}"
        if env_key in env:
            values[name] = _coerce(env_key, env[env_key], target)
        elif f"{env_key}_FILE" in env:
            secret_path = Path(env[f"{env_key}_FILE"])
            try:
                values[name] = _coerce(env_key, secret_path.read_text(encoding="utf-8").strip(), target)
            except OSError as exc:
                raise ConfigError(f"cannot read {env_key}_FILE={secret_path}: {exc.strerror}") from None

    for key, raw in (overrides or {}).items():
        if raw is not None:
            values[key] = _coerce(key, raw, types[key])

    return _validate(dataclasses.replace(Settings(), **values))
