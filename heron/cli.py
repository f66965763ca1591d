"""The ``heron`` command: ``serve``, ``agent``, ``user``, ``token``, ``wal``, ``rules``, ``config show``, ``--version``.

An expected failure prints ``Error: ...`` on stderr and exits 1; a usage error exits 2.
"""

from __future__ import annotations

import argparse
import contextlib
import getpass
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from heron import __version__
from heron.agent.cli import add_agent_parser, run_agent_command
from heron.core.errors import HeronError

if TYPE_CHECKING:
    from heron.config import Settings
    from heron.meta.db import MetaStore


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="heron", description="Heron: self-hosted monitoring.")
    parser.add_argument("--version", action="version", version=f"heron {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", type=Path, help="TOML configuration file")
    common.add_argument("--data-dir", type=Path, help="data directory (default ./data)")

    serve = sub.add_parser("serve", help="run the Heron server", parents=[common])
    serve.add_argument("--listen", help="HOST:PORT to listen on (default 127.0.0.1:8902)")

    add_agent_parser(sub)

    user = sub.add_parser("user", help="manage users")
    user_sub = user.add_subparsers(dest="user_command", metavar="ACTION", required=True)
    create = user_sub.add_parser("create", help="create a user (asks for the password)", parents=[common])
    create.add_argument("username")
    create.add_argument("--role", choices=("admin", "member"), default="member")
    passwd = user_sub.add_parser("passwd", help="set a user's password (asks for it)", parents=[common])
    passwd.add_argument("username")
    user_sub.add_parser("list", help="list users", parents=[common])
    delete = user_sub.add_parser("delete", help="delete a user with their tokens, keys and sessions", parents=[common])
    delete.add_argument("username")

    token = sub.add_parser("token", help="manage personal API tokens")
    token_sub = token.add_subparsers(dest="token_command", metavar="ACTION", required=True)
    token_create = token_sub.add_parser("create", help="create a token for a user; prints it once", parents=[common])
    token_create.add_argument("username")
    token_create.add_argument("--note", default="", help="what the token is for")
    token_create.add_argument("--expires-in", metavar="DURATION", help="lifetime such as 30d or 12h (default: never)")
    token_list = token_sub.add_parser("list", help="list tokens (never their secrets)", parents=[common])
    token_list.add_argument("username", nargs="?", help="only this user's tokens")
    token_revoke = token_sub.add_parser("revoke", help="delete a token by id", parents=[common])
    token_revoke.add_argument("id", type=int)

    wal = sub.add_parser("wal", help="look at and re-apply records the store set aside (the quarantine)")
    wal_sub = wal.add_subparsers(dest="wal_command", metavar="ACTION", required=True)
    inspect = wal_sub.add_parser(
        "inspect", help="list quarantined records and why (works while Heron runs)", parents=[common]
    )
    inspect.add_argument("--rows", type=int, default=0, metavar="N", help="also print the first N rows of each")
    inspect.add_argument("--json", action="store_true", help="one JSON object per record, for scripts")
    requeue = wal_sub.add_parser(
        "requeue", help="put quarantined records back into the log and apply them (Heron stopped)", parents=[common]
    )
    requeue.add_argument("--seq", type=int, action="append", metavar="N", help="only this record (repeatable)")

    rules = sub.add_parser("rules", help="import and export Prometheus rule files (through a running Heron's API)")
    rules_sub = rules.add_subparsers(dest="rules_command", metavar="ACTION", required=True)
    remote = argparse.ArgumentParser(add_help=False, parents=[common])
    remote.add_argument("--server", help="the Heron server's URL (default: http:// and the configured listen address)")
    remote.add_argument("--token", help="a personal API token (or --user, asking for the password)")
    remote.add_argument("--user", help="sign in as this user; the password is read from the terminal or stdin")
    rules_import = rules_sub.add_parser(
        "import", help="make Heron PromQL rules of a Prometheus rule file's alerting rules", parents=[remote]
    )
    rules_import.add_argument("file", type=Path, help="the rule file (groups: YAML)")
    rules_import.add_argument(
        "--skip-recording", action="store_true", help="leave recording rules out instead of refusing the file"
    )
    rules_import.add_argument("--notification-group", type=int, metavar="ID", help="notify this group")
    rules_export = rules_sub.add_parser(
        "export", help="write your PromQL rules as a Prometheus rule file", parents=[remote]
    )
    rules_export.add_argument("--output", "-o", type=Path, help="write here instead of stdout")

    config = sub.add_parser("config", help="show the effective configuration", parents=[common])
    config.add_argument("action", choices=("show",))
    return parser


def _settings(args: argparse.Namespace) -> Settings:
    # Imported here, not at the top: `heron agent` never reads settings, and tomllib with the
    # config module is over a MiB of the agent's resident memory.
    from heron.config import load_settings

    overrides = {"data_dir": getattr(args, "data_dir", None), "listen": getattr(args, "listen", None)}
    return load_settings(config_file=getattr(args, "config", None), overrides=overrides)


def _ask_password() -> str:
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Repeat password: ") != first:
        raise HeronError("the passwords do not match")
    return first


def _open_meta(settings: Settings) -> MetaStore:
    from heron.meta.db import MetaStore, make_engine, migrate

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.meta_database_url)
    migrate(engine)
    return MetaStore(engine)


def _user_command(args: argparse.Namespace, settings: Settings) -> None:
    from sqlalchemy import select

    from heron.auth.users import UserDirectory
    from heron.meta.models import User

    meta = _open_meta(settings)
    engine = meta.engine
    users = UserDirectory(meta)
    if args.user_command == "create":
        users.create(args.username, _ask_password(), role=args.role)
        print(f"created user '{args.username}' ({args.role})")
    elif args.user_command == "passwd":
        users.set_password(args.username, _ask_password())
        print(f"password of '{args.username}' changed")
    elif args.user_command == "delete":
        user_id = users.user_id_of(args.username)
        if user_id is None:
            raise HeronError(f"user '{args.username}' does not exist")
        users.delete(user_id)
        print(f"deleted user '{args.username}'")
    else:
        with meta.session() as s:
            for u in s.scalars(select(User).order_by(User.username)):
                print(f"{u.username}\t{u.role}\t{u.created_at:%Y-%m-%d %H:%M}")
    engine.dispose()


def _token_command(args: argparse.Namespace, settings: Settings) -> None:
    """Tokens from the command line: how a first script gets a credential without the API."""
    from datetime import UTC, datetime, timedelta

    from heron.auth.tokens import TokenStore
    from heron.auth.users import UserDirectory
    from heron.core.timeprec import parse_duration_seconds

    meta = _open_meta(settings)
    users, tokens = UserDirectory(meta), TokenStore(meta)
    try:
        if args.token_command == "create":
            user_id = users.user_id_of(args.username)
            if user_id is None:
                raise HeronError(f"user '{args.username}' does not exist")
            expires = None
            if args.expires_in:
                expires = datetime.now(UTC) + timedelta(seconds=parse_duration_seconds(args.expires_in))
            info, secret = tokens.create(user_id, args.note, expires_at=expires)
            print(f"token {info.id} for '{args.username}' (shown once, store it now):")
            print(secret)
        elif args.token_command == "list":
            owner = None
            if args.username:
                owner = users.user_id_of(args.username)
                if owner is None:
                    raise HeronError(f"user '{args.username}' does not exist")
            for t in tokens.list(owner):
                used = f"{t.last_used_at:%Y-%m-%d %H:%M}" if t.last_used_at else "never used"
                expires_text = f"expires {t.expires_at:%Y-%m-%d %H:%M}" if t.expires_at else "no expiry"
                created = f"{t.created_at:%Y-%m-%d %H:%M}"
                print(f"{t.id}\t{t.username}\t{t.hint}...\t{created}\t{used}\t{expires_text}\t{t.note}")
        else:
            tokens.delete(args.id)
            print(f"token {args.id} revoked")
    finally:
        meta.engine.dispose()


def _wal_command(args: argparse.Namespace, settings: Settings) -> None:
    """``heron wal inspect|requeue``: the quarantine, from the command line."""
    import orjson

    from heron.core.identifiers import show
    from heron.tsdb.quarantine import Quarantine

    quarantine = Quarantine(settings.data_dir / "tsdb" / "quarantine")
    if args.wal_command == "inspect":
        entries = quarantine.entries()
        for entry in entries:
            if args.json:
                print(orjson.dumps(entry.as_dict()).decode())
                continue
            when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(entry.quarantined_at))
            print(f"record {entry.seq}\t{when}\t{entry.schema}\t{entry.table}\t{entry.rows} rows\t{entry.reason}")
            record = quarantine.load(entry)
            columns = ", ".join(
                f"{show(name)} ({kind} {sql_type})" for name, (kind, sql_type) in record.columns.items()
            )
            print(f"    columns: time, {columns}")
            if args.rows > 0:
                print(_rows_text(record.data, args.rows))
        damaged = sorted(quarantine.dir.glob("*.damaged")) if quarantine.dir.is_dir() else []
        for path in damaged:
            print(f"damaged log segment kept aside: {path} ({path.stat().st_size} bytes)", file=sys.stderr)
        if not args.json:
            print(f"{len(entries)} quarantined records in {quarantine.dir}", file=sys.stderr)
        return
    from heron.tsdb.store import open_store
    from heron.tsdb.writer import Writer

    try:
        con = open_store(settings.tsdb_path)
    except Exception as exc:
        raise HeronError(f"cannot open the store ({exc}); stop `heron serve` on {settings.data_dir} first") from exc
    writer = Writer(con, wal_dir=settings.data_dir / "tsdb" / "wal", quarantine_dir=quarantine.dir)
    try:
        done = writer.requeue(only=set(args.seq) if args.seq else None)
        for seq, schema, table, rows in done:
            print(f"record {seq}\t{schema}\t{table}\t{rows} rows\trequeued")
        left = quarantine.entries()
        print(f"{len(done)} records requeued; {len(left)} in the quarantine", file=sys.stderr)
        if left:
            for entry in left:
                print(f"still refused: record {entry.seq} ({entry.table}): {entry.reason}", file=sys.stderr)
    finally:
        writer.close()
        con.close()


def _rules_command(args: argparse.Namespace, settings: Settings) -> None:
    """``heron rules import|export``: through the API, so a running server sees the change at once."""
    import base64
    import json
    import urllib.error
    import urllib.parse
    import urllib.request

    base = (args.server or f"http://{settings.listen}").rstrip("/")
    if args.token:
        auth = f"Bearer {args.token}"
    elif args.user:
        if sys.stdin.isatty():
            password = getpass.getpass(f"Password of {args.user}: ")
        else:
            password = sys.stdin.readline().rstrip("\n")
        auth = "Basic " + base64.b64encode(f"{args.user}:{password}".encode()).decode()
    else:
        raise HeronError("give --token TOKEN or --user NAME to sign in to Heron")

    def call(method: str, path: str, body: bytes | None = None) -> bytes:
        request = urllib.request.Request(base + path, data=body, method=method, headers={"Authorization": auth})
        try:
            with urllib.request.urlopen(request, timeout=120) as answer:
                data: bytes = answer.read()
                return data
        except urllib.error.HTTPError as exc:
            text = exc.read().decode("utf-8", "replace")
            with contextlib.suppress(ValueError, AttributeError):
                text = json.loads(text).get("error") or text
            raise HeronError(f"{base} answered {exc.code}: {text}") from None
        except urllib.error.URLError as exc:
            raise HeronError(f"cannot reach {base}: {exc.reason}") from None

    if args.rules_command == "import":
        query: dict[str, str] = {}
        if args.skip_recording:
            query["skip_recording"] = "true"
        if args.notification_group:
            query["notification_group_id"] = str(args.notification_group)
        path = "/api/v1/alert-rule/import" + (f"?{urllib.parse.urlencode(query)}" if query else "")
        done = json.loads(call("POST", path, args.file.read_bytes()))["data"]
        print(f"{len(done['created'])} rules created, {len(done['updated'])} updated")
        for name in done["skipped_recording_rules"]:
            print(f"skipped recording rule {name}")
        return
    text = call("GET", "/api/v1/alert-rule/export")
    if args.output:
        args.output.write_bytes(text)
        print(f"wrote {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text.decode())


def _rows_text(data: object, limit: int) -> str:
    import pyarrow as pa

    assert isinstance(data, pa.Table)
    return "\n".join(f"    {row}" for row in data.slice(0, limit).to_pylist())


def _expected_errors() -> tuple[type[Exception], ...]:
    """The errors printed as ``Error: ...``: HeronError, and ConfigError once heron.config is loaded.

    A ConfigError cannot be raised before its module is imported, and the agent never imports it.
    """
    config = sys.modules.get("heron.config")
    return (HeronError, config.ConfigError) if config is not None else (HeronError,)


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        if args.command == "agent":
            run_agent_command(args)
            return 0
        settings = _settings(args)
        if args.command == "serve":
            from heron.logs import setup_logging
            from heron.server import serve

            setup_logging(settings.log_level)
            serve(settings)
        elif args.command == "user":
            _user_command(args, settings)
        elif args.command == "token":
            _token_command(args, settings)
        elif args.command == "wal":
            _wal_command(args, settings)
        elif args.command == "rules":
            _rules_command(args, settings)
        elif args.command == "config":
            for key, value, help_text in settings.public_items():
                print(f"{key} = {value}    # {help_text}")
    except _expected_errors() as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"Error: {exc.strerror or exc}: {getattr(exc, 'filename', '') or ''}".rstrip(": "), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
