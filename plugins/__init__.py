"""The plugins kdns knows, one package each, and the registry the Corefile loader uses."""

from __future__ import annotations

import dataclasses
import importlib
import pkgutil

from kdns.corefile import PluginSpec
from kdns.plugins.base import unsupported
from kdns.plugins.order import CHAIN_ORDER, NOT_IN_CHAIN

__all__ = ["CHAIN_ORDER", "default_registry", "implemented"]


def implemented() -> tuple[str, ...]:
    """Return the names of the plugins that have a package here, in chain order."""
    packages = {m.name for m in pkgutil.iter_modules(__path__) if m.ispkg}
    return tuple(name for name in CHAIN_ORDER if name in packages)


def default_registry() -> dict[str, PluginSpec]:
    """Return every CoreDNS plugin name mapped to its spec, in execution order.

    Plugins with a package here bring their own spec; every other name in CoreDNS's
    plugin.cfg is recognised as unsupported (a warning in check, a refusal in serve).
    Whether a plugin joins the chain comes from `order.NOT_IN_CHAIN`, the one list of it.
    """
    have = set(implemented())
    registry: dict[str, PluginSpec] = {}
    for name in CHAIN_ORDER:
        if name in have:
            spec = importlib.import_module(f"{__name__}.{name}").SPEC
            assert isinstance(spec, PluginSpec)
            assert spec.name == name
        else:
            spec = unsupported(name)
        registry[name] = dataclasses.replace(spec, in_chain=name not in NOT_IN_CHAIN)
    return registry
