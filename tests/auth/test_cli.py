"""``heron token create|list|revoke`` and ``heron user delete``, in process: paired success and failure."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from heron.cli import main


def _run(argv: list[str], capsys: pytest.CaptureFixture[str], stdin: str = "") -> tuple[int, str, str]:
    import sys

    old = sys.stdin
    sys.stdin = io.StringIO(stdin)
    try:
        code = main(argv)
    finally:
        sys.stdin = old
    out, err = capsys.readouterr()
    return code, out, err


def test_tokens_from_the_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = ["--data-dir", str(tmp_path)]
    assert _run(["user", "create", "erin", *data], capsys, "erin-password\n")[0] == 0
    code, out, _ = _run(["token", "create", "erin", "--note", "deploy", "--expires-in", "30d", *data], capsys)
    assert code == 0 and "shown once" in out
    secret = out.strip().splitlines()[-1]
    assert secret.startswith("heron_")
    code, out, _ = _run(["token", "list", "erin", *data], capsys)
    assert code == 0 and "deploy" in out and "expires" in out and secret not in out
    token_id = out.split("\t", 1)[0]
    assert _run(["token", "revoke", token_id, *data], capsys)[0] == 0
    code, _, err = _run(["token", "revoke", token_id, *data], capsys)
    assert code == 1 and err.startswith("Error:") and "does not exist" in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["token", "create", "nobody"], "does not exist"),
        (["token", "list", "nobody"], "does not exist"),
        (["token", "create", "erin", "--expires-in", "soon"], "invalid duration"),
        (["user", "delete", "nobody"], "does not exist"),
    ],
)
def test_token_and_user_failures_say_why(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    data = ["--data-dir", str(tmp_path)]
    _run(["user", "create", "erin", *data], capsys, "erin-password\n")
    code, _, err = _run([*argv, *data], capsys)
    assert code == 1 and message in err and "Traceback" not in err


def test_user_delete_keeps_the_last_admin(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = ["--data-dir", str(tmp_path)]
    _run(["user", "create", "root", "--role", "admin", *data], capsys, "root-password\n")
    _run(["user", "create", "frank", *data], capsys, "frank-password\n")
    assert _run(["user", "delete", "frank", *data], capsys)[0] == 0
    code, _, err = _run(["user", "delete", "root", *data], capsys)
    assert code == 1 and "last admin" in err
    code, out, _ = _run(["user", "list", *data], capsys)
    assert "root" in out and "frank" not in out
