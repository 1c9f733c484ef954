"""`kdns migrate`: deprecated Corefiles rewritten line by line, each result passing kdns check."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from kdns.corefile import CorefileError, loads
from kdns.corefile.migrate import migrate
from kdns.plugins import default_registry

HERE = Path(__file__).parent / "migrate"
REGISTRY = default_registry()

#: fixture -> the reasons expected, as (line, column, words the reason contains), in file order.
CASES: dict[str, list[tuple[int, int, str]]] = {
    "seed": [(6, 5, "proxy was removed in CoreDNS 1.5.0: renamed to forward")],
    "kubeadm-1.11": [(6, 8, "'upstream' was removed"), (10, 5, "renamed to forward")],
    "kubeadm-1.12": [(6, 8, "'upstream' was removed"), (10, 5, "renamed to forward")],
    "kubeadm-1.14": [(6, 8, "kubernetes 'upstream' was removed in CoreDNS 1.7.0")],
    "kubeadm-kube-dns": [
        (6, 8, "'upstream' was removed"),
        (9, 5, "federation was removed from CoreDNS in 1.7.0"),
        (13, 5, "renamed to forward"),
        (23, 5, "renamed to forward"),
        (29, 5, "renamed to forward"),
    ],
    "corpus-c03": [(6, 9, "'upstream' was removed"), (10, 5, "renamed to forward")],
    "corpus-c04": [(6, 9, "'upstream' was removed"), (10, 5, "renamed to forward")],
    "corpus-c43": [(3, 3, "forward"), (8, 3, "forward"), (9, 3, "forward")],
    "proxy-options": [
        (5, 5, "renamed to forward"),
        (6, 9, "'sequential'"),
        (7, 9, "no fail_timeout"),
        (8, 9, "max_fails counted failed queries"),
        (9, 9, "HTTP health check"),
        (11, 9, "'protocol dns force_tcp' is forward's 'force_tcp'"),
        (17, 5, "renamed to forward"),
        (18, 9, "no least_conn policy"),
        (19, 9, "no spray"),
        (21, 5, "renamed to forward"),
        (21, 5, "moved before the less specific forward stanzas"),
        (25, 2, "renamed to forward"),
        (26, 3, "https_google"),
    ],
    "stub-domains": [
        (5, 9, "'upstream' was removed"),
        (8, 5, "renamed to forward"),
        (9, 5, "renamed to forward"),
        (9, 5, "moved before the less specific"),
        (12, 5, "renamed to forward"),
    ],
    "kubernetes-options": [
        (4, 40, "only the first 'endpoint'"),
        (6, 9, "'resyncperiod' was removed in CoreDNS 1.7.0"),
        (7, 9, "'upstream' was removed"),
        (10, 9, "moved to the transfer plugin in CoreDNS 1.8.0"),
    ],
    "file-template": [
        (3, 9, "file 'upstream' was removed"),
        (4, 9, "now 'reload 0'"),
        (5, 9, "moved to the transfer plugin"),
        (10, 9, "template 'upstream' was removed"),
        (12, 9, "'log stdout' is now 'log'"),
        (18, 9, "k8s_external 'upstream' was removed"),
    ],
    "upstream-only": [(3, 9, "'upstream' was removed")],
    "kubeadm-1.18": [],
}

#: Lines each migrated fixture must contain, exactly (indentation included).
REWRITTEN: dict[str, list[str]] = {
    "seed": ["    kubernetes cluster.local 10.3.0.0/24", "    forward . /etc/resolv.conf"],
    "corpus-c04": ["    forward . /etc/resolv.conf", "\tcache 30"],
    "proxy-options": [
        "    forward . 10.0.0.2:53 10.0.0.3:53 {",
        "        policy sequential          # the primary first",
        "        force_tcp",
        "    forward sub.internal.example.com 10.1.0.3 { policy round_robin }\n"
        "    forward . 10.1.0.2\n",
        "\tforward . 8.8.8.8\n}",
    ],
    "stub-domains": [
        "    forward corp.example.com 10.20.0.53 10.20.0.54 {\n"
        "        policy sequential\n"
        "    }\n"
        "    forward example.com 10.30.0.53\n"
        "    forward . /etc/resolv.conf\n"
        "    cache 30",
    ],
    "kubernetes-options": [
        "        endpoint https://10.0.0.1:6443\n",
        "        ignore empty_service\n"
        "    }\n"
        "    transfer cluster.local {\n"
        "        to 10.240.1.1 10.240.1.2\n"
        "    }\n"
        "    autopath @kubernetes",
    ],
    "file-template": [
        "        reload 0\n    }\n    transfer {\n        to 192.0.2.53\n    }\n",
        "    log\n}",
        "    k8s_external example.net\n}",
    ],
    "upstream-only": ["    kubernetes cluster.local\n    # resolv.conf of the node\n"],
}


def _load(name: str) -> tuple[Path, str]:
    path = HERE / f"{name}.corefile"
    return path, path.read_text()


def test_every_fixture_has_a_case() -> None:
    names = {p.stem for p in HERE.glob("*.corefile")} - {"reverse"}
    assert names == set(CASES)
    assert len([n for n, reasons in CASES.items() if reasons]) >= 11


@pytest.mark.parametrize("name", sorted(CASES))
def test_migrated_text_matches_and_passes_check(name: str) -> None:
    path, text = _load(name)
    result = migrate(text, str(path))
    assert result.text == path.with_suffix(".migrated").read_text()
    assert result.changed == bool(CASES[name])
    for line in REWRITTEN.get(name, []):
        assert line in result.text
    # The result loads with no error and no warning at all (so no deprecation warning).
    model = loads(result.text, REGISTRY, path=str(path))
    assert [d.headline() for d in model.warnings] == []
    # The original did not pass as cleanly: every deprecated fixture warned or failed.
    if CASES[name]:
        try:
            before = loads(text, REGISTRY, path=str(path))
        except CorefileError:
            pass
        else:
            assert before.warnings


@pytest.mark.parametrize("name", sorted(CASES))
def test_reasons_name_the_original_position(name: str) -> None:
    path, text = _load(name)
    reasons = migrate(text, str(path)).reasons
    got = [(r.pos.line, r.pos.column) for r in reasons]
    assert got == [(line, col) for line, col, _ in CASES[name]]
    for reason, (line, col, words) in zip(reasons, CASES[name], strict=True):
        assert reason.pos.file == str(path)
        assert words in reason.message
        assert str(reason).startswith(f"{path}:{line}:{col}: ")


@pytest.mark.parametrize("name", sorted(CASES))
def test_migrating_twice_changes_nothing(name: str) -> None:
    path = HERE / f"{name}.migrated"
    again = migrate(path.read_text(), str(path))
    assert not again.changed
    assert again.reasons == ()


def test_untouched_text_stays_byte_for_byte() -> None:
    text = (
        "\ufeff# header comment\r\n"
        ".:53 {   # trailing\r\n"
        "\r\n"
        "  kubernetes cluster.local {\r\n"
        "      upstream   # not needed any more\r\n"
        "      pods insecure\r\n"
        "  }\r\n"
        "  proxy . 1.1.1.1\r\n"
        "}\r\n"
    )
    result = migrate(text, "Corefile")
    assert result.text == (
        "\ufeff# header comment\r\n"
        ".:53 {   # trailing\r\n"
        "\r\n"
        "  kubernetes cluster.local {\r\n"
        "      pods insecure\r\n"
        "  }\r\n"
        "  forward . 1.1.1.1\r\n"
        "}\r\n"
    )
    assert [(r.pos.line, r.pos.column) for r in result.reasons] == [(5, 7), (8, 3)]


def test_inline_block_and_comment_inside_block_are_kept() -> None:
    text = (
        ".:53 {\n    kubernetes cluster.local { upstream }\n    proxy . 1.1.1.1 {\n"
        "        # keep me\n        spray\n    }\n}\n"
    )
    result = migrate(text)
    assert result.text == (
        ".:53 {\n    kubernetes cluster.local\n    forward . 1.1.1.1 {\n"
        "        # keep me\n    }\n}\n"
    )


def test_snippets_are_migrated_where_written() -> None:
    text = "(up) {\n    proxy . 9.9.9.9\n}\n.:53 {\n    import up\n}\n"
    result = migrate(text)
    assert result.text == "(up) {\n    forward . 9.9.9.9\n}\n.:53 {\n    import up\n}\n"
    assert loads(result.text, REGISTRY).warnings == ()


def test_to_version_stops_at_that_release() -> None:
    _, text = _load("kubernetes-options")
    early = migrate(text, to_version="1.4.0")
    assert [r.message.split(" ")[:3] for r in early.reasons] == [["kubernetes", "uses", "only"]]
    _, seed = _load("seed")
    assert not migrate(seed, to_version="1.4.2").changed
    assert migrate(seed, to_version="1.5").changed
    with pytest.raises(ValueError, match="not a CoreDNS version"):
        migrate(seed, to_version="latest")


def test_left_alone_plugins_are_reported() -> None:
    path, text = _load("kubeadm-1.18")
    assert migrate(text, str(path)).reasons == ()
    reverse = (HERE / "reverse.corefile").read_text()
    result = migrate(reverse, "reverse.corefile")
    assert str(result.reasons[0]).startswith("reverse.corefile:2:5: left as written: reverse")
    assert not result.reasons[0].changed
    assert "    reverse 10.0.0.0/8 {\n" in result.text


def test_unparseable_input_raises_with_position() -> None:
    with pytest.raises(CorefileError) as info:
        migrate(".:53 {\n    proxy . 1.1.1.1\n", "bad.corefile")
    assert str(info.value.diagnostics[0].pos) == "bad.corefile:1:6"


# The command line, as a subprocess.


def _kdns(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    return subprocess.run(
        [sys.executable, "-m", "kdns.runtime", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_cli_prints_diff_and_reasons_without_writing(tmp_path: Path) -> None:
    target = tmp_path / "Corefile"
    original = (HERE / "stub-domains.corefile").read_text()
    target.write_text(original)
    run = _kdns("migrate", "Corefile", cwd=tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "--- Corefile\n+++ Corefile (migrated)\n" in run.stdout
    assert "-    proxy . /etc/resolv.conf\n" in run.stdout
    assert "+    forward . /etc/resolv.conf\n" in run.stdout
    assert "Corefile:5:9: kubernetes 'upstream' was removed" in run.stdout
    assert "5 changes; the result passes kdns check (0 warnings)" in run.stdout
    assert target.read_text() == original


def test_cli_write_replaces_the_file_with_valid_text(tmp_path: Path) -> None:
    target = tmp_path / "Corefile"
    target.write_text((HERE / "kubeadm-kube-dns.corefile").read_text())
    target.chmod(0o640)
    run = _kdns("migrate", "Corefile", "--write", cwd=tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "Corefile: 5 changes written" in run.stdout
    assert target.read_text() == (HERE / "kubeadm-kube-dns.migrated").read_text()
    assert target.stat().st_mode & 0o777 == 0o640
    check = _kdns("check", "Corefile", cwd=tmp_path)
    assert check.returncode == 0
    assert "ok, 0 warnings" in check.stdout
    again = _kdns("migrate", "Corefile", "--write", cwd=tmp_path)
    assert again.returncode == 0
    assert "Corefile: nothing to migrate (0 warnings)" in again.stdout


def test_cli_never_writes_an_invalid_result(tmp_path: Path) -> None:
    target = tmp_path / "Corefile"
    original = (HERE / "reverse.corefile").read_text()
    target.write_text(original)
    run = _kdns("migrate", "Corefile", "--write", cwd=tmp_path)
    assert run.returncode == 1
    assert "Corefile:2:5: error: unknown plugin 'reverse'" in run.stdout
    assert "does not pass kdns check (1 error): not written" in run.stdout
    assert target.read_text() == original
    assert [p.name for p in tmp_path.iterdir()] == ["Corefile"]


def test_cli_unparseable_input_exits_1_with_position(tmp_path: Path) -> None:
    (tmp_path / "Corefile").write_text(".:53 {\n    proxy . 1.1.1.1\n")
    run = _kdns("migrate", "Corefile", cwd=tmp_path)
    assert run.returncode == 1
    assert run.stdout.startswith("Corefile:1:6: error: unexpected end of file")
    assert "cannot be parsed, nothing migrated" in run.stdout
