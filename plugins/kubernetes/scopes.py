"""What a change of the cluster alters, as the index tells its listeners and answers.py keeps
its replies by: the names of one Service (namespace, name: the index's own key for it, which
direct.py passes on as it is), the pod names (PODS), or anything (ALL). Those two and
answers.py's SHARED are 1-tuples, so no Service's scope equals one. Every change also alters
names outside any one Service's (reverse names, wildcards, the namespace level): answers.py
drops those on every scope.
"""

from __future__ import annotations

from typing import Final

Scope = tuple[str, ...]
ALL: Final[Scope] = ("all",)
PODS: Final[Scope] = ("pod",)


def service_scope(namespace: str, name: str) -> Scope:
    """Return the scope of the names of one Service (and its endpoints and ports)."""
    return (namespace, name)
