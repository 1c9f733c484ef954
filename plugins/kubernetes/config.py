"""kubernetes: syntax and defaults, as CoreDNS's kubernetes plugin reads them."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal
from urllib.parse import urlsplit

from kdns.corefile import BlockContext, CorefileError, Directive, Word
from kdns.corefile.syntax import (
    Args,
    Fallthrough,
    choice,
    duration,
    fallthrough,
    flag,
    integer,
    several,
    single,
    zone,
    zones,
)
from kdns.plugins.kubernetes.objects import Kind
from kdns.plugins.kubernetes.selector import LabelSelector, SelectorError, parse_selector

PodMode = Literal["disabled", "insecure", "verified"]
POD_MODES: tuple[PodMode, ...] = ("disabled", "insecure", "verified")

PROPERTIES = (
    "endpoint",
    "tls",
    "kubeconfig",
    "apiserver_qps",
    "apiserver_burst",
    "apiserver_max_inflight",
    "namespaces",
    "namespace_labels",
    "labels",
    "pods",
    "endpoint_pod_names",
    "ttl",
    "noendpoints",
    "fallthrough",
    "ignore",
    "multicluster",
    "zonal",
    "startup_timeout",
)


@dataclass(frozen=True, slots=True)
class TLSFiles:
    """Client certificate, key and CA files for an `endpoint` connection (paths, not read)."""

    cert: str
    key: str
    ca: str


@dataclass(frozen=True, slots=True)
class Kubeconfig:
    """A kubeconfig file to connect with, and the context to use (None: its current one)."""

    path: str
    context: str | None = None


@dataclass(frozen=True, slots=True)
class KubernetesConfig:
    """How the kubernetes plugin connects to the API and which names it answers."""

    zones: tuple[str, ...]
    #: API server URL; None connects in-cluster with the service account.
    endpoint: str | None = None
    tls: TLSFiles | None = None
    kubeconfig: Kubeconfig | None = None
    #: Client-side API limits; 0 keeps the client library's default (QPS 5, burst 10, no cap).
    apiserver_qps: float = 0.0
    apiserver_burst: int = 0
    apiserver_max_inflight: int = 0
    #: Only these namespaces are answered; empty means all.
    namespaces: tuple[str, ...] = ()
    namespace_labels: LabelSelector | None = None
    labels: LabelSelector | None = None
    pods: PodMode = "disabled"
    endpoint_pod_names: bool = False
    ttl: int = 5
    noendpoints: bool = False
    fallthrough: Fallthrough | None = None
    ignore_empty_service: bool = False
    multicluster: tuple[str, ...] = ()
    zonal: bool = False
    startup_timeout: float = 5.0

    def is_multicluster(self, zone: str) -> bool:
        """Tell whether `zone` (any spelling) is a `multicluster` zone (ServiceImports)."""
        return zone.lower() in self.multicluster

    @property
    def primary_zone(self) -> str:
        """Return the first zone that is not a reverse zone (used in PTR targets)."""
        return next(z for z in self.zones if not is_reverse(z))


def is_reverse(name: str) -> bool:
    """Tell whether a fully qualified zone lies under in-addr.arpa. or ip6.arpa."""
    return any(name == s or name.endswith("." + s) for s in ("in-addr.arpa.", "ip6.arpa."))


def _endpoint(word: Word) -> str:
    text = word.text
    scheme = text.partition("://")[0].lower() if "://" in text else "https"
    if scheme not in ("http", "https"):
        raise CorefileError(
            f"endpoint '{text}' must be an http:// or https:// URL, such as https://10.0.0.1:6443",
            word.pos,
        )
    parts = urlsplit(text if "://" in text else "https://" + text)
    try:
        parts.port  # noqa: B018 - validates the port
    except ValueError:
        raise CorefileError(f"endpoint '{text}' has an invalid port", word.pos) from None
    if not parts.hostname:
        raise CorefileError(
            f"endpoint '{text}' has no host: write a URL such as https://10.0.0.1:6443", word.pos
        )
    return text


def _selector(prop: Directive) -> LabelSelector:
    words = several(prop, "a label selector EXPRESSION")
    text = " ".join(w.text for w in words)
    try:
        return parse_selector(text)
    except SelectorError as exc:
        raise CorefileError(
            f"'{text}' is not a valid label selector for '{prop.keyword}': {exc}", words[0].pos
        ) from None


def _ttl(prop: Directive, ctx: BlockContext) -> int:
    args = Args(prop)
    value = integer(args.next("TTL"), minimum=0, maximum=3600, what="ttl")
    args.ignore_rest(ctx)
    return value


def _multicluster(prop: Directive, own: tuple[str, ...], ctx: BlockContext) -> tuple[str, ...]:
    found: list[str] = []
    for word in prop.args:
        for name in zone(word):
            if name not in own:
                raise CorefileError(
                    f"multicluster zone '{name}' is not one of the kubernetes zones "
                    f"({' '.join(own)}): add it to the zones after 'kubernetes'",
                    word.pos,
                )
            found.append(name)
    if not prop.args:
        ctx.warn(
            prop.pos, "'multicluster' without zones does nothing - name the zones or delete it"
        )
    return tuple(found)


def _removed(prop: Directive, ctx: BlockContext) -> None:
    """Accept, with a warning, the options old cluster Corefiles still carry."""
    if prop.keyword == "upstream":
        ctx.warn(
            prop.pos,
            "'upstream' was removed in CoreDNS 1.7.0; kdns ignores it: CNAME targets are "
            "resolved through the chain - delete the line",
        )
        return
    duration(single(prop, "DURATION"), minimum=0, what="resync period")
    ctx.warn(
        prop.pos,
        "'resyncperiod' was removed in CoreDNS 1.7.0; kdns ignores it: it watches the API "
        "continuously - delete the line",
    )


def parse(d: Directive, ctx: BlockContext) -> KubernetesConfig:
    """Parse `kubernetes [ZONES...] { ... }`."""
    config = KubernetesConfig(zones=zones(d.args, ctx))
    if all(is_reverse(z) for z in config.zones):
        where = d.args[0].pos if d.args else d.pos
        raise CorefileError(
            "kubernetes needs a zone that is not a reverse zone, such as cluster.local: "
            "add one to the zones after 'kubernetes'",
            where,
        )
    namespaces_at: Directive | None = None
    labels_at: Directive | None = None
    tls_at: Directive | None = None
    endpoint_at: Directive | None = None
    noendpoints_at: Directive | None = None
    zonal_at: Directive | None = None
    for prop in d.properties():
        prop.no_block()
        match prop.keyword:
            case "endpoint":
                args = Args(prop)
                first = _endpoint(args.next("URL"))
                rest = args.rest()
                for word in rest:
                    _endpoint(word)
                if rest:
                    ctx.warn(
                        rest[0].pos,
                        f"several endpoints are deprecated: only the first, '{first}', is "
                        "used - delete the others",
                    )
                config = replace(config, endpoint=first)
                endpoint_at = prop
            case "tls":
                args = Args(prop)
                cert = args.next("CERT").text
                key = args.next("KEY").text
                ca = args.next("CACERT").text
                args.end()
                config = replace(config, tls=TLSFiles(cert, key, ca))
                tls_at = prop
            case "kubeconfig":
                args = Args(prop)
                path = args.next("KUBECONFIG file").text
                context = args.optional()
                args.end()
                config = replace(
                    config, kubeconfig=Kubeconfig(path, context.text if context else None)
                )
            case "apiserver_qps":
                word = single(prop, "QPS")
                try:
                    qps = float(word.text)
                except ValueError:
                    qps = -1.0
                if not qps >= 0 or qps == float("inf"):
                    raise CorefileError(
                        f"apiserver_qps '{word.text}' is not a number of at least 0", word.pos
                    )
                config = replace(config, apiserver_qps=qps)
            case "apiserver_burst":
                word = single(prop, "BURST")
                config = replace(
                    config, apiserver_burst=integer(word, minimum=0, what="apiserver_burst")
                )
            case "apiserver_max_inflight":
                word = single(prop, "MAX")
                config = replace(
                    config,
                    apiserver_max_inflight=integer(word, minimum=0, what="apiserver_max_inflight"),
                )
            case "namespaces":
                names = [w.text for w in several(prop, "NAMESPACE")]
                config = replace(
                    config, namespaces=tuple(dict.fromkeys([*config.namespaces, *names]))
                )
                namespaces_at = prop
            case "namespace_labels":
                config = replace(config, namespace_labels=_selector(prop))
                labels_at = prop
            case "labels":
                config = replace(config, labels=_selector(prop))
            case "pods":
                word = single(prop, "POD-MODE (disabled, insecure or verified)")
                config = replace(config, pods=choice(word, POD_MODES, "pod mode"))
            case "endpoint_pod_names":
                config = replace(config, endpoint_pod_names=flag(prop))
            case "ttl":
                config = replace(config, ttl=_ttl(prop, ctx))
            case "noendpoints":
                config = replace(config, noendpoints=flag(prop))
                noendpoints_at = prop
            case "zonal":
                config = replace(config, zonal=flag(prop))
                zonal_at = prop
            case "fallthrough":
                config = replace(config, fallthrough=fallthrough(prop))
            case "ignore":
                args = Args(prop)
                what = args.optional()
                if what is None:
                    ctx.warn(prop.pos, "'ignore' without a value does nothing - delete it")
                else:
                    choice(what, ("empty_service",), "ignore value")
                    args.ignore_rest(ctx)
                    config = replace(config, ignore_empty_service=True)
            case "multicluster":
                found = _multicluster(prop, config.zones, ctx)
                config = replace(
                    config, multicluster=tuple(dict.fromkeys([*config.multicluster, *found]))
                )
            case "startup_timeout":
                word = single(prop, "DURATION")
                config = replace(
                    config, startup_timeout=duration(word, minimum=0, what="startup_timeout")
                )
            case "upstream" | "resyncperiod":
                _removed(prop, ctx)
            case "transfer":
                raise CorefileError(
                    "'transfer' was moved out of the kubernetes plugin in CoreDNS 1.8.0: use the "
                    "transfer plugin instead (transfer ZONE { to ADDRESS })",
                    prop.pos,
                )
            case _:
                raise prop.unknown(PROPERTIES)
    if namespaces_at is not None and labels_at is not None:
        later = max(namespaces_at, labels_at, key=lambda p: p.pos)
        raise CorefileError(
            "'namespaces' and 'namespace_labels' cannot both be set - keep one of them",
            later.pos,
        )
    if zonal_at is not None and noendpoints_at is not None:
        later = max(zonal_at, noendpoints_at, key=lambda p: p.pos)
        raise CorefileError(
            "'zonal' needs the endpoint watch that 'noendpoints' turns off - keep one of them",
            later.pos,
        )
    if tls_at is not None and endpoint_at is None:
        ctx.warn(
            tls_at.pos,
            "'tls' only applies to an 'endpoint' connection and is ignored without one - add "
            "an endpoint or delete the line",
        )
    if endpoint_at is not None and config.kubeconfig is not None:
        ctx.warn(
            endpoint_at.pos,
            "'endpoint' is ignored when 'kubeconfig' is set: the kubeconfig's server is used",
        )
    return config


def watched_kinds(config: KubernetesConfig) -> tuple[Kind, ...]:
    """Return the kinds the plugin watches for `config`."""
    kinds: list[Kind] = ["Namespace", "Service"]
    if not config.noendpoints:
        kinds.append("EndpointSlice")
    if config.pods == "verified":
        kinds.append("Pod")
    if config.multicluster:
        # The MCS slices are watched even with `noendpoints`, as CoreDNS does.
        kinds += ["ServiceImport", "MultiClusterEndpointSlice"]
    return tuple(kinds)
