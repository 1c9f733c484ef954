"""autopath: what a plugin offers to give each client its search path (CoreDNS's AutoPather).

`autopath @PLUGIN` looks for a plugin of that name behind it in the chain that implements
`SearchPather`. The resolv.conf reader is here too, for the file form and for plugins that
append the server's own search domains (as *kubernetes* does).
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable


@runtime_checkable
class SearchPather(Protocol):
    """A plugin that knows the search path of the client behind a query."""

    def search_path(self, qname: str, remote_ip: str) -> list[str] | None:
        """Return the client's search domains, fully qualified, or None for "do not autopath".

        `qname` is the lower-cased query name; the bare name is tried after the list by
        autopath itself.
        """
        ...


def resolv_search(text: str) -> list[str]:
    """Return the search domains of resolv.conf text, lower case and fully qualified.

    The last `search` or `domain` line wins, as in the C resolver.
    """
    found: list[str] = []
    for line in text.splitlines():
        words = line.split("#", 1)[0].split(";", 1)[0].split()
        if len(words) >= 2 and words[0] in ("search", "domain"):
            found = [w.lower().rstrip(".") + "." for w in words[1:] if w.strip(".")]
    return found
