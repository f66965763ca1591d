"""The ``heron`` command: ``serve``, ``user``, ``config show`` and ``--version``.

An expected failure prints ``Error: ...`` on stderr and exits 1; a usage error exits 2.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Sequence
from pathlib import Path

from heron import __version__
from heron.config import ConfigError, Settings, load_settings
from heron.core.errors import HeronError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="heron", description="Heron: self-hosted monitoring.")
    parser.add_argument("--version", action="version", version=f"heron {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", type=Path, help="TOML configuration file")
    common.add_argument("--data-dir", type=Path, help="data directory (default ./data)")

    serve = sub.add_parser("serve", help="run the Heron server", parents=[common])
    serve.add_argument("--listen", help="HOST:PORT to listen on (default 127.0.0.1:8902)")

    user = sub.add_parser("user", help="manage users")
    user_sub = user.add_subparsers(dest="user_command", metavar="ACTION", required=True)
    create = user_sub.add_parser("create", help="create a user (asks for the password)", parents=[common])
    create.add_argument("username")
    create.add_argument("--role", choices=("admin", "member"), default="member")
    passwd = user_sub.add_parser("passwd", help="set a user's password (asks for it)", parents=[common])
    passwd.add_argument("username")
    user_sub.add_parser("list", help="list users", parents=[common])

    config = sub.add_parser("config", help="show the effective configuration", parents=[common])
    config.add_argument("action", choices=("show",))
    return parser


def _settings(args: argparse.Namespace) -> Settings:
    overrides = {"data_dir": getattr(args, "data_dir", None), "listen": getattr(args, "listen", None)}
    return load_settings(config_file=getattr(args, "config", None), overrides=overrides)


def _ask_password() -> str:
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Repeat password: ") != first:
        raise HeronError("the passwords do not match")
    return first


def _user_command(args: argparse.Namespace, settings: Settings) -> None:
    from sqlalchemy import select

    from heron.auth.users import UserDirectory
    from heron.meta.db import MetaStore, make_engine, migrate
    from heron.meta.models import User

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.meta_database_url)
    migrate(engine)
    meta = MetaStore(engine)
    users = UserDirectory(meta)
    if args.user_command == "create":
        users.create(args.username, _ask_password(), role=args.role)
        print(f"created user '{args.username}' ({args.role})")
    elif args.user_command == "passwd":
        users.set_password(args.username, _ask_password())
        print(f"password of '{args.username}' changed")
    else:
        with meta.session() as s:
            for u in s.scalars(select(User).order_by(User.username)):
                print(f"{u.username}\t{u.role}\t{u.created_at:%Y-%m-%d %H:%M}")
    engine.dispose()


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        settings = _settings(args)
        if args.command == "serve":
            from heron.logs import setup_logging
            from heron.server import serve

            setup_logging(settings.log_level)
            serve(settings)
        elif args.command == "user":
            _user_command(args, settings)
        elif args.command == "config":
            for key, value, help_text in settings.public_items():
                print(f"{key} = {value}    # {help_text}")
    except (ConfigError, HeronError) as exc:
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
