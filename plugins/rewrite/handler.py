"""rewrite: rewrites queries before the rest of the chain, and their replies on the way back.

Rules are applied in the order written; a rule that applies in `stop` mode ends the rule
processing, in `continue` mode the next rules are tried too (CoreDNS's Rewrite.ServeDNS).
The rest of the chain gets a new request with the rewritten question and options; the
client's request is left as it came, so the server's own replies (errors, OPT echo, size
limits) follow what the client sent. Whatever the chain writes goes through a `Reverter`
that puts the client's question back and applies the rules' reply rewrites.
"""

from __future__ import annotations

from kdns.corefile.addresses import is_domain_name
from kdns.plugins.base import (
    NOERROR,
    BuildContext,
    Handler,
    Plugin,
    PluginError,
    Request,
    Resolver,
    ResponseWriter,
    next_or_failure,
    wrote,
)
from kdns.plugins.rewrite.config import RewriteConfig
from kdns.plugins.rewrite.reverter import Reverter
from kdns.plugins.rewrite.rules import ResponseRule, State, apply


class Rewrite(Plugin[RewriteConfig]):
    """Every rewrite rule of a server block, in the order written."""

    name = "rewrite"

    def __init__(
        self, configs: tuple[RewriteConfig, ...], nxt: Handler | None, ctx: BuildContext
    ) -> None:
        super().__init__(configs, nxt, ctx)
        self.rules = tuple((c.rule, c.mode == "stop") for c in configs)
        #: Looks the targets of `cname` rules up through the server; set by the runtime.
        self.resolve: Resolver | None = None

    async def serve_dns(self, req: Request, w: ResponseWriter) -> int:
        """Rewrite the query, pass it on, and rewrite the reply back for the client."""
        state: State | None = None
        back: list[ResponseRule] = []
        applied = False
        for rule, stop in self.rules:
            if state is None:
                state = State.of(req)
            found = apply(rule, state)
            if found is None:
                continue
            if state.name_changed and not is_domain_name(state.name):
                raise PluginError(self.name, f"invalid name after rewrite: {state.name}")
            applied = True
            back.extend(found)
            if stop:
                break
        if state is None or not applied:
            return await next_or_failure(self.name, self.next, req, w)
        inner = state.request() if state.changed else req
        reverter = Reverter(w, req.msg.questions[:1], back)
        try:
            rcode = await next_or_failure(self.name, self.next, inner, reverter)
        except PluginError as exc:
            # Answer through the reverter (the client's question, rcode rules) and let the
            # error go on up to be logged; the server sees a reply was written.
            await reverter.flush(self.resolve)
            if reverter.written is None:
                reverter.write(inner.reply(exc.rcode))
                await reverter.flush(self.resolve)
            raise
        finally:
            if inner is not req and inner.answered_by:
                req.answered_by = inner.answered_by
        await reverter.flush(self.resolve)
        if wrote(rcode) or reverter.written is not None:
            return rcode if wrote(rcode) else NOERROR
        # Nothing was written: write the error here, so the client sees its own question
        # and rcode rules apply (CoreDNS does the same, and returns success).
        reverter.write(inner.reply(rcode))
        await reverter.flush(self.resolve)
        return NOERROR
