"""Imports, snippets and environment substitution."""

from __future__ import annotations

from pathlib import Path

import pytest

from kdns.corefile import CorefileError, load
from kdns.corefile.expand import substitute_env
from kdns.plugins import default_registry


@pytest.mark.parametrize(
    ("text", "env", "expected"),
    [
        ("di{$PARTIAL_DIR}", {"PARTIAL_DIR": "r1"}, "dir1"),
        (
            "{$ADDRESS}:{$PORT}",
            {"ADDRESS": "servername.com", "PORT": "8080"},
            "servername.com:8080",
        ),
        (":{$PORT$}", {}, ":"),
        ("{%ADDRESS}", {"ADDRESS": "x"}, "{%ADDRESS}"),
        ("{%ADDRESS%}", {"ADDRESS": "x"}, "x"),
        ("{{ .Name }} {$FOOBAR}", {"FOOBAR": "foobar"}, "{{ .Name }} foobar"),
        ("{$} {$HOME}", {"HOME": "/root"}, "{$} {$HOME}"),
        ("{%%} {$HOME}", {"HOME": "/root"}, "{%%} /root"),
        ("{$A}{$A}", {"A": "x"}, "xx"),
        ("{$A}", {"A": "{$B}", "B": "deep"}, "deep"),
        ("{$UP}", {"UP": "1.1.1.1 8.8.8.8"}, "1.1.1.1 8.8.8.8"),
    ],
)
def test_substitute_env(text: str, env: dict[str, str], expected: str) -> None:
    """Both syntaxes expand per word, as CoreDNS's parse tests show."""
    assert substitute_env(text, env, lambda name: None) == expected


def test_self_referential_variable_stops() -> None:
    """A value that contains its own reference does not loop forever."""
    assert "{$A}" in substitute_env("{$A}", {"A": "x{$A}"}, lambda name: None)


def write(tmp: Path, name: str, text: str) -> Path:
    path = tmp / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def names(path: Path, env: dict[str, str] | None = None) -> list[list[str]]:
    model = load(str(path), default_registry(), env=env or {})
    return [[e.name for e in server.plugins] for server in model.servers]


def test_import_is_relative_to_the_importing_file(tmp_path: Path) -> None:
    """A nested import resolves against its own file's folder, not the working directory."""
    write(tmp_path, "conf/parts/inner.conf", "whoami\n")
    write(tmp_path, "conf/parts/outer.conf", "import inner.conf\n")
    main = write(tmp_path, "conf/Corefile", ". {\n    import parts/outer.conf\n}\n")
    assert names(main) == [["whoami"]]


def test_top_level_import_brings_whole_blocks_in_glob_order(tmp_path: Path) -> None:
    """`import dir/*.server` at the top adds server blocks, in lexical order."""
    write(tmp_path, "custom/b.server", "b.example {\n    cache\n}\n")
    write(tmp_path, "custom/a.server", "a.example {\n    whoami\n}\n")
    main = write(tmp_path, "Corefile", ". {\n    whoami\n}\nimport custom/*.server\n")
    model = load(str(main), default_registry(), env={})
    assert [s.zones for s in model.servers] == [(".",), ("a.example.",), ("b.example.",)]


def test_empty_glob_is_a_warning_missing_file_an_error(tmp_path: Path) -> None:
    """As in k3s's `import /etc/coredns/custom/*.override` with an empty ConfigMap."""
    main = write(tmp_path, "Corefile", ". {\n    whoami\n    import custom/*.override\n}\n")
    model = load(str(main), default_registry(), env={})
    assert any("no files match import glob" in w.message for w in model.warnings)
    write(tmp_path, "Corefile", ". {\n    import custom/one.override\n}\n")
    with pytest.raises(CorefileError, match="file to import not found"):
        load(str(main), default_registry(), env={})


def test_snippet_used_in_two_blocks_and_inside_a_plugin_block(tmp_path: Path) -> None:
    """Snippets splice anywhere an import may stand, including a directive's block."""
    main = write(
        tmp_path,
        "Corefile",
        "(common) {\n    errors\n    cache 30\n}\n(opts) {\n    max_fails 3\n}\n"
        "a.org {\n    import common\n}\nb.org {\n    import common\n    whoami\n}\n",
    )
    assert names(main) == [["errors", "cache"], ["errors", "cache", "whoami"]]


def test_snippet_wins_over_a_file_of_the_same_name(tmp_path: Path) -> None:
    """CoreDNS looks up snippets before files."""
    write(tmp_path, "snip", "cache\n")
    main = write(tmp_path, "Corefile", "(snip) {\n    whoami\n}\n. {\n    import snip\n}\n")
    assert names(main) == [["whoami"]]


def test_file_import_cycle_is_reported_with_its_path(tmp_path: Path) -> None:
    """a imports b imports a: an error that shows the cycle, not a recursion crash."""
    write(tmp_path, "a.conf", "import b.conf\n")
    write(tmp_path, "b.conf", "import a.conf\n")
    main = write(tmp_path, "Corefile", ". {\n    import a.conf\n}\n")
    with pytest.raises(CorefileError) as info:
        load(str(main), default_registry(), env={})
    message = info.value.errors[0].message
    assert "import cycle" in message
    assert "a.conf -> " in message
    assert message.endswith("a.conf")


def test_a_file_may_be_imported_twice_without_a_cycle(tmp_path: Path) -> None:
    """Repetition is not recursion."""
    write(tmp_path, "common.conf", "whoami\n")
    main = write(
        tmp_path,
        "Corefile",
        "a.org {\n    import common.conf\n}\nb.org {\n    import common.conf\n}\n",
    )
    assert names(main) == [["whoami"], ["whoami"]]


def test_errors_in_imported_files_name_that_file(tmp_path: Path) -> None:
    """Positions survive imports: file, line and column of the imported text."""
    part = write(tmp_path, "part.conf", "# comment\n  cache 0\n")
    main = write(tmp_path, "Corefile", ". {\n    import part.conf\n}\n")
    with pytest.raises(CorefileError) as info:
        load(str(main), default_registry(), env={})
    err = info.value.errors[0]
    assert (err.pos.file, err.pos.line, err.pos.column) == (str(part), 2, 9)
    assert err.plugin == "cache"


def test_environment_in_keys_and_arguments_and_unset_warning(tmp_path: Path) -> None:
    """Keys and arguments expand; an unset variable expands to '' with a warning."""
    main = write(tmp_path, "Corefile", "{$ZONE}:{$PORT} {$EXTRA} {\n    cache {$TTL}\n}\n")
    env = {"ZONE": "example.org", "PORT": "1053", "TTL": "30"}
    model = load(str(main), default_registry(), env=env)
    assert [str(a) for a in model.servers[0].addresses] == ["dns://example.org.:1053"]
    assert model.servers[0].plugins[0].config.success.max_ttl == 30  # type: ignore[attr-defined]
    assert any("'EXTRA' is not set" in w.message for w in model.warnings)


def test_key_expanding_to_nothing_drops_the_block(tmp_path: Path) -> None:
    """A block whose only key expands to '' is not served (CoreDNS drops it)."""
    main = write(tmp_path, "Corefile", "{$NONE} {\n    whoami\n}\n. {\n    cache\n}\n")
    model = load(str(main), default_registry(), env={})
    assert [s.zones for s in model.servers] == [(".",)]


def test_import_pattern_is_substituted(tmp_path: Path) -> None:
    """`import {$DIR}/x.conf` reads the expanded path."""
    write(tmp_path, "d/x.conf", "whoami\n")
    main = write(tmp_path, "Corefile", ". {\n    import {$DIR}/x.conf\n}\n")
    assert names(main, {"DIR": str(tmp_path / "d")}) == [["whoami"]]
