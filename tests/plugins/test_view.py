"""view: the name, the expressions, the QueryFilter protocol and the errors."""

from __future__ import annotations

import pytest

from kdns.corefile import QueryFilter
from kdns.plugins.testing import load_text, parse_error, parse_one
from kdns.plugins.view import ViewConfig

VALID = [
    pytest.param("view all", ViewConfig("all"), id="no-block"),
    pytest.param("view all {\n}", ViewConfig("all"), id="empty-block"),
    pytest.param(
        "view lan {\n  expr incidr(client_ip(), '192.168.0.0/16')\n}",
        ViewConfig("lan", ("incidr(client_ip(), '192.168.0.0/16')",)),
        id="one-expr",
    ),
    pytest.param(
        "view v {\n  expr type() in ['A', 'AAAA']\n  expr name() matches '^abc\\\\..*$'\n}",
        ViewConfig("v", ("type() in ['A', 'AAAA']", "name() matches '^abc\\\\..*$'")),
        id="two-exprs",
    ),
    pytest.param(
        "view v {\n  expr \"name() == 'example.org.'\"\n}",
        ViewConfig("v", ("name() == 'example.org.'",)),
        id="corefile-quotes-are-removed",
    ),
]


@pytest.mark.parametrize(("text", "want"), VALID)
def test_valid(text: str, want: ViewConfig) -> None:
    """Each valid directive gives exactly the expected config."""
    assert parse_one(text, ".") == want


def test_is_a_query_filter() -> None:
    """The config is a QueryFilter named after the view, so blocks with it are filtered."""
    config = ViewConfig("split")
    assert isinstance(config, QueryFilter)
    assert config.filter_name() == "split"
    model = load_text(
        ". {\n  view split {\n    expr type() == 'A'\n  }\n  whoami\n}\n. {\n  whoami\n}\n"
    )
    assert [block.filtered() for block in model.servers] == [True, False]


INVALID = [
    pytest.param("view", (2, 1, "missing NAME after 'view'"), id="no-name"),
    pytest.param("view a b", (2, 8, "unexpected argument 'b'"), id="two-names"),
    pytest.param(
        "view a {\n  exp x\n}",
        (3, 3, "unknown property 'exp' - did you mean 'expr'?"),
        id="unknown",
    ),
    pytest.param("view a {\n  expr\n}", (3, 3, "missing EXPRESSION after 'expr'"), id="empty"),
    pytest.param("view a {\n  expr f(x\n}", (3, 8, "missing a closing ')'"), id="open-paren"),
    pytest.param("view a {\n  expr x)\n}", (3, 8, "unmatched ')'"), id="extra-paren"),
    pytest.param("view a {\n  expr [1, 2)\n}", (3, 8, "unmatched ')'"), id="mismatched"),
    pytest.param("view a {\n  expr name() == 'x\n}", (3, 8, "no closing '"), id="open-string"),
    pytest.param("view a\nview b", (3, 1, "only be used once per server block"), id="twice"),
    # compiled when loaded: the column points into the expression
    pytest.param(
        "view a {\n  expr nme() == 'x'\n}", (3, 8, "unknown name 'nme'"), id="unknown-function"
    ),
    pytest.param(
        "view a {\n  expr client_port() == '53'\n}",
        (3, 8, "did you mean port()?"),
        id="hint",
    ),
    pytest.param(
        "view a {\n  expr type() == 'A' && name\n}",
        (3, 25, "'name' is a function: write name()"),
        id="bare-function",
    ),
    pytest.param(
        "view a {\n  expr incidr(client_ip())\n}",
        (3, 8, "incidr() takes 2 arguments, not 1"),
        id="arity",
    ),
    pytest.param(
        "view a {\n  expr incidr(client_ip(), '10.0.0/33')\n}",
        (3, 28, "invalid CIDR address"),
        id="bad-cidr",
    ),
    pytest.param(
        "view a {\n  expr name() matches '^a(b$'\n}",
        (3, 23, "invalid regular expression"),
        id="bad-regex",
    ),
    pytest.param(
        "view a {\n  expr size() == 'big'\n}",
        (3, 15, "mismatched types number and string"),
        id="mismatched-types",
    ),
    pytest.param("view a {\n  expr name()\n}", (3, 8, "must be true or false"), id="not-bool"),
    pytest.param(
        "view a {\n  expr type() == 'A' &&\n}",
        (3, 24, "expected a value, found the end of the expression"),
        id="dangling-and",
    ),
    pytest.param(
        "view a {\n  expr type() = 'A'\n}", (3, 15, "unexpected character '='"), id="single-equals"
    ),
    pytest.param(
        "view a {\n  expr name() matches '^a\\.b$'\n}",
        (3, 26, "invalid escape"),
        id="single-backslash",
    ),
    pytest.param(
        'view a {\n  expr type() == "A"\n}',
        (3, 19, "write the strings of an expression in single quotes"),
        id="corefile-ate-double-quotes",
    ),
    pytest.param(
        "view a {\n  expr type() == 'A'\n  expr !do() ||\n}",
        (4, 16, "found the end"),
        id="second-expr-line",
    ),
]


@pytest.mark.parametrize(("text", "want"), INVALID)
def test_invalid(text: str, want: tuple[int, int, str]) -> None:
    """Each invalid directive fails at the offending word with a clear message."""
    err = parse_error(text, ".")
    line, column, message = want
    assert (err.pos.line, err.pos.column) == (line, column), err.message
    assert message in err.message


def test_brackets_inside_strings_do_not_count() -> None:
    """A ')' or '[' inside a quoted string is text, not a bracket."""
    config = parse_one("view a {\n  expr name() matches '^a[(]b$' && type() == ']'\n}", ".")
    assert isinstance(config, ViewConfig)
    assert config.expressions == ("name() matches '^a[(]b$' && type() == ']'",)
    assert len(config.programs) == 1
