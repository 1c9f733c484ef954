"""The lexical and grammar rules of CoreDNS's Caddyfile dialect, as parse_lines reads them."""

from __future__ import annotations

import pytest

from kdns.corefile import CorefileError
from kdns.corefile.parser import parse_lines
from kdns.corefile.syntax_tree import Line


def words(text: str) -> list[list[str]]:
    """Return the words of each line, flattening blocks depth-first."""
    out: list[list[str]] = []

    def walk(lines: tuple[Line, ...]) -> None:
        for line in lines:
            out.append([w.text for w in line.words])
            if line.block is not None:
                walk(line.block)

    walk(parse_lines(text, "Corefile"))
    return out


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("host:123 {\n directive\n}", [["host:123"], ["directive"]]),
        (". {\n foobar # another comment\n}", [["."], ["foobar"]]),
        ('. {\n A "quoted \\"value\\" inside" B\n}', [["."], ["A", 'quoted "value" inside', "B"]]),
        ('. {\n empty "" string\n}', [["."], ["empty", "", "string"]]),
        ("skip those\r\nCR characters\r\n", [["skip", "those"], ["CR", "characters"]]),
        ("\ufeff:8080 {\n}", [[":8080"]]),
        (". {\n hosts#foo\n}", [["."], ["hosts"]]),
        (". {\n forward . 1.1.1.1#x\n}", [["."], ["forward", ".", "1.1.1.1"]]),
        (". {\n a\u00a0b\n}", [["."], ["a", "b"]]),
        ('. {\n a"b c"\n}', [["."], ['a"b', 'c"']]),
        ('. {\n "foo"bar\n}', [["."], ["foo", "bar"]]),
        ('. {\n "a\\b" "C:\\php\\php.exe"\n}', [["."], ["a\\b", "C:\\php\\php.exe"]]),
        ('. {\n "a\\\\"\n}', [["."], ["a\\\\"]]),
        ('. {\n "x # not a comment {"\n}', [["."], ["x # not a comment {"]]),
        (". {\n x {}\n}", [["."], ["x", "{}"]]),
        (". {\n x }}\n}", [["."], ["x", "}}"]]),
        ("a.org,\n  b.org {\n}", [["a.org,", "b.org"]]),
        ("a.org\n{\n whoami\n}", [["a.org"], ["whoami"]]),
        ("\n\n# only a comment\n\n. {\n\n\n whoami\n\n}\n\n", [["."], ["whoami"]]),
        ("example.org\nwhoami\nlog", [["example.org"], ["whoami"], ["log"]]),
        (
            ". {\n a {\n  b {\n   c {\n    d 1\n   }\n  }\n }\n}",
            [["."], ["a"], ["b"], ["c"], ["d", "1"]],
        ),
        (
            ". {\n forward . 1.1.1.1 { max_fails 2 }\n}",
            [["."], ["forward", ".", "1.1.1.1"], ["max_fails", "2"]],
        ),
        (
            '. {\n template IN A {\n  answer "{{ .Name }} 60 IN A 1.2.3.4"\n }\n}',
            [["."], ["template", "IN", "A"], ["answer", "{{ .Name }} 60 IN A 1.2.3.4"]],
        ),
    ],
)
def test_lexing_and_lines(text: str, expected: list[list[str]]) -> None:
    """Words split, quote, comment and nest as in CoreDNS's lexer."""
    assert words(text) == expected


def test_newline_inside_quotes_is_kept_and_lines_count_from_the_start() -> None:
    """A quoted word may span lines; the next line's position still counts every newline."""
    lines = parse_lines('. {\n a "x\ny"\n b\n}', "f")
    block = lines[0].block
    assert block is not None
    assert block[0].words[1].text == "x\ny"
    assert block[1].pos.line == 4


def test_positions_are_one_based_line_and_column() -> None:
    """Every word knows the file, line and column it starts at."""
    lines = parse_lines("# c\n.:53 {\n    cache 30\n}\n", "Corefile")
    cache = lines[0].block[0]  # type: ignore[index]
    assert (cache.pos.file, cache.pos.line, cache.pos.column) == ("Corefile", 3, 5)
    assert (cache.words[1].pos.line, cache.words[1].pos.column) == (3, 11)


def test_quoted_words_are_marked() -> None:
    """The checker can tell "import" the word from import the keyword."""
    line = parse_lines('. {\n "import" x\n}', "f")[0].block[0]  # type: ignore[index]
    assert line.words[0].quoted
    assert not line.words[1].quoted


def test_inline_close_of_last_line_is_recorded() -> None:
    """`. { whoami }` parses, and remembers that `}` closed a line (the loader rejects it)."""
    line = parse_lines(". { whoami }", "f")[0]
    assert line.inline_close is not None
    assert line.inline_close.column == 12


@pytest.mark.parametrize(
    ("text", "line", "column", "message"),
    [
        (". {\n whoami\n", 1, 3, "is never closed"),
        (". {\n a {\n  b\n }\n", 1, 3, "is never closed"),
        (". {\n}\n}\n", 3, 1, "no matching '{'"),
        ('. {\n chaos "v1\n}\n', 2, 8, "unterminated quoted string"),
        ("example.org{\n whoami\n}\n", 1, 1, "put a space before '{'"),
        ("{\n", 1, 1, "is never closed"),
    ],
)
def test_syntax_errors_carry_a_position(text: str, line: int, column: int, message: str) -> None:
    """Broken syntax raises CorefileError at the place the user must fix."""
    with pytest.raises(CorefileError) as info:
        parse_lines(text, "Corefile")
    err = info.value.errors[0]
    assert (err.pos.line, err.pos.column) == (line, column)
    assert message in err.message
