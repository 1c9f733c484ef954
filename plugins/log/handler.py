"""log: one line per query, for queries under the names of the block's log rules."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import structlog

from kdns.plugins.base import (
    NOT_WRITTEN,
    SERVFAIL,
    BuildContext,
    Handler,
    Plugin,
    PluginError,
    Request,
    ResponseWriter,
    next_or_failure,
)
from kdns.plugins.log.classify import classify
from kdns.plugins.log.config import LogClass, LogConfig
from kdns.plugins.log.format import LogRecorder, Piece, compile_format, needs_size, render

log = structlog.get_logger("plugin/log")


@dataclass(frozen=True, slots=True)
class Rule:
    """One name of a log directive, with its directive's compiled format and classes."""

    name: str
    #: `.example.org.`: a query name ending in it is below the rule's name.
    suffix: str
    pieces: tuple[Piece, ...]
    #: None logs every class (`all`); otherwise the classes logged.
    classes: frozenset[LogClass] | None
    measure: bool

    def covers(self, qname: str) -> bool:
        """Tell whether the rule's name is the lower-case `qname` or a parent of it."""
        return self.name == "." or qname == self.name or qname.endswith(self.suffix)


def rules_of(configs: tuple[LogConfig, ...]) -> tuple[Rule, ...]:
    """Return one rule per name of every directive, in written order."""
    rules = []
    for config in configs:
        pieces = compile_format(config.format)
        classes = None if "all" in config.classes else frozenset(config.classes)
        for name in config.names:
            rules.append(Rule(name, "." + name, pieces, classes, needs_size(pieces)))
    return tuple(rules)


class Log(Plugin[LogConfig]):
    """Wraps the rest of the chain and logs each query the first matching rule selects."""

    name = "log"

    def __init__(
        self, configs: tuple[LogConfig, ...], nxt: Handler | None, ctx: BuildContext
    ) -> None:
        super().__init__(configs, nxt, ctx)
        self.rules = rules_of(configs)
        #: Nanosecond clock for {duration}; tests replace it.
        self.clock: Callable[[], int] = time.perf_counter_ns

    def rule_for(self, qname: str) -> Rule | None:
        """Return the first rule covering `qname`, or None when no rule does."""
        for rule in self.rules:
            if rule.covers(qname):
                return rule
        return None

    async def serve_dns(self, req: Request, w: ResponseWriter) -> int:
        """Run the rest of the chain through a recorder, then log the query if its rule says."""
        rule = self.rule_for(req.qname)
        if rule is None:
            return await next_or_failure(self.name, self.next, req, w)
        rec = LogRecorder(w, self.clock(), rule.measure)
        try:
            rcode = await next_or_failure(self.name, self.next, req, rec)
        except PluginError:
            self._log(rule, req, rec, SERVFAIL)
            raise  # for errors, which sits in front of log
        self._log(rule, req, rec, rcode)
        return rcode

    def _log(self, rule: Rule, req: Request, rec: LogRecorder, rcode: int) -> None:
        if rec.reply is None and rcode in NOT_WRITTEN:
            rec.synthesize(req.reply(rcode))  # what the server is about to write
        if rule.classes is not None and classify(rec.reply) not in rule.classes:
            return
        log.info(render(rule.pieces, req, rec, self.clock() - rec.start))
