"""``heron agent --once`` and ``heron agent install`` as a user runs them, and their failures."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from heron.agent.cli import agent_id_of
from heron.cli import main
from heron.inventory.live import HOST_FIELDS, STATUS_FIELDS


def test_once_prints_one_report_as_json() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "heron", "agent", "--once", "--interval", "0.2"],
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout
    report = json.loads(out)
    assert set(report) == {"host", "status"}
    assert set(report["host"]) == set(HOST_FIELDS) and set(STATUS_FIELDS) <= set(report["status"])
    assert report["host"]["MemTotal"] > 0 and report["status"]["MemUsed"] > 0


def test_install_writes_the_unit_and_starts_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    unit = tmp_path / "systemd" / "heron-agent.service"
    argv = ["agent", "install", "--server", "http://mon:8902", "--token", "heron_x", "--interval", "5"]
    assert main([*argv, "--unit-path", str(unit)]) == 0
    text = unit.read_text()
    assert "[Service]" in text and "WantedBy=multi-user.target" in text
    assert "agent --server http://mon:8902 --token heron_x --interval 5" in text
    assert unit.stat().st_mode & 0o077 == 0, "the unit holds the token: readable by its owner only"
    assert "systemctl" in capsys.readouterr().out


def test_install_with_a_server_secret_puts_the_secret_in_the_unit(tmp_path: Path) -> None:
    unit = tmp_path / "heron-agent.service"
    argv = ["agent", "install", "--server", "http://mon:8902", "--secret", "hsrv_abc", "--unit-path", str(unit)]
    assert main(argv) == 0
    assert "agent --server http://mon:8902 --secret hsrv_abc --interval 3" in unit.read_text()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["agent"], "--server and --token (or --secret) are required"),
        (["agent", "--server", "http://x"], "--server and --token (or --secret) are required"),
        (["agent", "install", "--token", "t"], "--server and --token (or --secret) are required"),
        (["agent", "--server", "http://x", "--token", "t", "--interval", "0"], "--interval must be positive"),
        (["agent", "--server", "http://x", "--token", "t", "--secret", "hsrv_s"], "give --token or --secret, not both"),
    ],
)
def test_missing_or_bad_options_exit_1_with_an_error(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 1
    assert capsys.readouterr().err.startswith(f"Error: {message}")


def test_an_unknown_action_is_a_usage_error() -> None:
    with pytest.raises(SystemExit) as exc:
        main(["agent", "uninstall"])
    assert exc.value.code == 2


def test_the_agent_id_is_explicit_the_machine_id_or_kept_in_a_file(tmp_path: Path) -> None:
    machine = tmp_path / "machine-id"
    state = tmp_path / "state" / "agent-id"
    assert agent_id_of("given", state, machine) == "given"
    made = agent_id_of(None, state, machine)
    assert state.read_text().strip() == made and agent_id_of(None, state, machine) == made
    machine.write_text("0123456789abcdef0123456789abcdef\n")
    assert agent_id_of(None, state, machine) == "0123456789abcdef0123456789abcdef"
