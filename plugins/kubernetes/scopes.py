"""What a change of the cluster alters, as the index tells its listeners and answers.py keeps
its replies by: the names of one Service ("svc", namespace, name), the pod names (PODS), or
anything (ALL). Every change also alters names outside any one Service's (reverse names,
wildcards, the namespace level): answers.py drops those on every scope.

A module of its own so the compiled build (setup.py) makes `service_scope` a C call for the
fast path (direct.py), which index.py, interpreted, cannot give.
"""

from __future__ import annotations

from typing import Final

Scope = tuple[str, ...]
ALL: Final[Scope] = ("all",)
PODS: Final[Scope] = ("pod",)


def service_scope(namespace: str, name: str) -> Scope:
    """Return the scope of the names of one Service (and its endpoints and ports)."""
    return ("svc", namespace, name)
