"""Corefile text to a syntax tree of lines, with the lark grammar and a small post-lexer."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import NamedTuple

from lark import Lark, Token, Transformer, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken
from lark.lark import PostLex

from kdns.corefile.errors import CorefileError, Position
from kdns.corefile.syntax_tree import Line, Word
from kdns.grammar import grammar_text


class LinePostLexer(PostLex):
    """Fold newlines the way Caddy's parser reads them, so the grammar stays small.

    Drops leading and repeated newlines, the newline after a server-block key that ends in
    a comma (the key list continues), and newlines before a `{` that opens a server block
    (the brace may sit on the next line); makes sure the file ends with a newline.
    """

    always_accept = ("_NL",)

    def process(self, stream: Iterator[Token]) -> Iterator[Token]:
        """Yield the tokens of `stream` with newlines folded."""
        depth = 0
        prev: Token | None = None
        held: Token | None = None
        for tok in stream:
            if tok.type == "_NL":
                if prev is None:
                    continue
                continues_keys = depth == 0 and prev.type == "WORD" and str(prev).endswith(",")
                if not continues_keys:
                    held = held or tok
                continue
            if held is not None:
                if not (tok.type == "LBRACE" and depth == 0):
                    yield held
                held = None
            if tok.type == "LBRACE":
                depth += 1
            elif tok.type == "RBRACE":
                depth -= 1
            prev = tok
            yield tok
        if prev is not None:
            yield held or Token.new_borrow_pos("_NL", "\n", prev)


@functools.cache
def _lark() -> Lark:
    return Lark(
        grammar_text(),
        parser="lalr",
        lexer="basic",
        postlex=LinePostLexer(),
        maybe_placeholders=False,
    )


def _unquote(text: str) -> str:
    """Strip the quotes of a quoted word; `\\"` becomes `"`, other backslashes stay."""
    return text[1:-1].replace('\\"', '"')


class _Block(NamedTuple):
    open_pos: Position
    body: tuple[Line, ...]
    inline_close: Position | None


class _ToLines(Transformer[Token, tuple[Line, ...]]):
    """Turn the lark tree into `Line` nodes carrying file positions."""

    def __init__(self, file: str) -> None:
        super().__init__()
        self.file = file

    def _pos(self, tok: Token) -> Position:
        return Position(self.file, tok.line or 0, tok.column or 0)

    def WORD(self, tok: Token) -> Word:
        return Word(str(tok), self._pos(tok))

    def QUOTED(self, tok: Token) -> Word:
        return Word(_unquote(str(tok)), self._pos(tok), quoted=True)

    def LBRACE(self, tok: Token) -> Position:
        return self._pos(tok)

    def RBRACE(self, tok: Token) -> Position:
        return self._pos(tok)

    @v_args(inline=True)
    def start(self, *lines: Line) -> tuple[Line, ...]:
        return lines

    def words(self, items: list[Word]) -> tuple[Word, ...]:
        return tuple(items)

    def block(self, items: list[object]) -> _Block:
        open_pos = items[0]
        close_pos = items[-1]
        assert isinstance(open_pos, Position)
        assert isinstance(close_pos, Position)
        body = [x for x in items[1:-1] if isinstance(x, Line)]
        inline: Position | None = None
        last = items[-2]
        if isinstance(last, tuple):
            words: tuple[Word, ...] = last
            body.append(Line(words, None, words[0].pos))
            inline = close_pos
        return _Block(open_pos, tuple(body), inline)

    def line(self, items: list[object]) -> Line:
        words = items[0]
        assert isinstance(words, tuple)
        if len(items) == 1:
            return Line(words, None, words[0].pos)
        block = items[1]
        assert isinstance(block, _Block)
        return Line(words, block.body, words[0].pos, block.open_pos, block.inline_close)

    def bare_block(self, items: list[object]) -> Line:
        block = items[0]
        assert isinstance(block, _Block)
        return Line((), block.body, block.open_pos, block.open_pos, block.inline_close)


def _clean(text: str) -> str:
    """Drop a leading byte-order mark and carriage returns, as CoreDNS's lexer does."""
    return text.removeprefix("\ufeff").replace("\r", "")


def parse_lines(text: str, file: str) -> tuple[Line, ...]:
    """Parse Corefile text into its top-level lines; raise CorefileError on bad syntax."""
    text = _clean(text)
    try:
        tree = _lark().parse(text)
    except UnexpectedInput as exc:
        raise _syntax_error(exc, text, file) from None
    result = _ToLines(file).transform(tree)
    assert isinstance(result, tuple)
    return result


def _syntax_error(exc: UnexpectedInput, text: str, file: str) -> CorefileError:
    """Explain a lark failure in the words of someone who writes Corefiles."""
    line, column = exc.line, exc.column
    if isinstance(exc, UnexpectedCharacters):
        # Every character starts some word except an opening quote that never closes.
        return CorefileError(
            "unterminated quoted string: add the closing '\"'", Position(file, line, column)
        )
    assert isinstance(exc, UnexpectedToken)
    tok = exc.token
    glued = _glued_brace(text, file) if tok.type in ("$END", "RBRACE") else None
    if glued is not None:
        return glued
    if tok.type == "$END":
        opened = _unclosed_brace(text, file)
        if opened is not None:
            return CorefileError(
                f"unexpected end of file: the '{{' at line {opened.line} column "
                f"{opened.column} is never closed - add '}}'",
                opened,
            )
        return CorefileError("unexpected end of file", Position(file, max(line, 1), column))
    pos = Position(file, tok.line or 1, tok.column or 1)
    if tok.type == "RBRACE":
        return CorefileError("unexpected '}' with no matching '{'", pos)
    if tok.type == "LBRACE":
        return CorefileError("unexpected '{'", pos)
    return CorefileError(f"unexpected '{tok}'", pos)


def _unclosed_brace(text: str, file: str) -> Position | None:
    """Return the position of the innermost `{` left open at the end of `text`."""
    stack: list[Position] = []
    for tok in _tokens(text):
        if tok.type == "LBRACE":
            stack.append(Position(file, tok.line or 1, tok.column or 1))
        elif tok.type == "RBRACE" and stack:
            stack.pop()
    return stack[-1] if stack else None


def _glued_brace(text: str, file: str) -> CorefileError | None:
    """Find a word that ends in `{` (`example.org{`): the usual cause of unbalanced braces."""
    for tok in _tokens(text):
        if tok.type == "WORD" and len(tok) > 1 and str(tok).endswith("{"):
            return CorefileError(
                f"'{tok}' ends in '{{': put a space before '{{' to open a block",
                Position(file, tok.line or 1, tok.column or 1),
            )
    return None


def _tokens(text: str) -> Iterator[Token]:
    """Yield the tokens of `text` up to the first one the lexer cannot read."""
    try:
        yield from _lark().lex(text, dont_ignore=False)
    except UnexpectedInput:
        return
