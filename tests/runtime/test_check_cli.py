"""`kdns check` as users run it: exit codes, text and JSON output, --explain."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from kdns.runtime.cli import main

KUBEADM = """\
.:53 {
    errors
    health {
       lameduck 5s
    }
    ready
    kubernetes cluster.local in-addr.arpa ip6.arpa {
       pods insecure
       fallthrough in-addr.arpa ip6.arpa
       ttl 30
    }
    prometheus :9153
    forward . /etc/resolv.conf {
       max_concurrent 1000
    }
    cache 30
    loop
    reload
    loadbalance
}
"""


@pytest.fixture
def good(tmp_path: Path) -> Path:
    path = tmp_path / "Corefile"
    path.write_text(KUBEADM)
    return path


@pytest.fixture
def bad(tmp_path: Path) -> Path:
    path = tmp_path / "bad.corefile"
    path.write_text(".:53 {\n    cache 0\n    forwrd . 1.1.1.1\n}\n")
    return path


def test_valid_file_exits_zero(good: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A valid Corefile exits 0 and says ok."""
    assert main(["check", str(good)]) == 0
    assert f"{good}: ok" in capsys.readouterr().out


def test_errors_exit_one_with_position_source_and_caret(
    bad: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each error is FILE:LINE:COL: error: plugin/NAME: message, its line and a caret."""
    assert main(["check", str(bad)]) == 1
    out = capsys.readouterr().out.splitlines()
    first = out.index(f"{bad}:2:11: error: plugin/cache: cache TTL can not be zero or negative: 0")
    assert out[first + 1] == "        cache 0"
    assert out[first + 2] == "              ^"
    assert f"{bad}:3:5: error: unknown plugin 'forwrd' - did you mean 'forward'?" in out
    assert out[-1] == f"{bad}: 2 errors, 0 warnings"


def test_any_invalid_file_makes_exit_one(
    good: Path, bad: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Several files are checked in one run; one bad file fails the run."""
    assert main(["check", str(good), str(bad)]) == 1
    out = capsys.readouterr().out
    assert f"{good}: ok" in out
    assert f"{bad}: 2 errors" in out


def test_json_output_carries_the_same_fields(bad: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--format json: file, line, column, severity, plugin, message per diagnostic."""
    assert main(["check", "--format", "json", str(bad)]) == 1
    doc = json.loads(capsys.readouterr().out)
    (report,) = doc["files"]
    assert report["valid"] is False
    assert report["diagnostics"][0] == {
        "file": str(bad),
        "line": 2,
        "column": 11,
        "severity": "error",
        "plugin": "cache",
        "message": "cache TTL can not be zero or negative: 0",
    }


def test_explain_prints_chain_in_execution_order_and_warns_on_written_order(
    good: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--explain shows zones, listeners, the chain; warns when written order differs."""
    assert main(["check", "--explain", str(good)]) == 0
    out = capsys.readouterr().out
    assert "  zones:   dns://.:53" in out
    assert "  listen:  dns://:53" in out
    assert (
        "  chain:   prometheus -> errors -> loadbalance -> cache -> kubernetes -> loop -> forward"
        in out
    )
    assert "warning: plugins are written in the order errors, kubernetes" in out


def test_default_file_is_corefile_in_the_working_directory(
    good: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without FILE, ./Corefile is checked, as CoreDNS reads it."""
    monkeypatch.chdir(good.parent)
    assert main(["check"]) == 0
    assert "Corefile: ok" in capsys.readouterr().out


def test_missing_file_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An unreadable Corefile is reported, not a traceback."""
    missing = tmp_path / "nope"
    assert main(["check", str(missing)]) == 1
    assert f"{missing}:0:0: error: cannot read the Corefile" in capsys.readouterr().out


def test_usage_error_exits_two() -> None:
    """Unknown options are usage errors (exit 2)."""
    with pytest.raises(SystemExit) as info:
        main(["check", "--frobnicate"])
    assert info.value.code == 2


def test_console_script_runs(good: Path) -> None:
    """The installed `kdns` entry point works as a program."""
    exe = Path(sys.executable).parent / "kdns"
    result = subprocess.run(
        [str(exe), "check", str(good)],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PYTHONWARNINGS": ""},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ok" in result.stdout
