"""Every DNS name a Kubernetes API state implies, and a check of a running kdns against it.

`State` reads Namespaces, Services and EndpointSlices (from an in-process `ApiServer`, or from
object lists) and says, for each name, what the kubernetes plugin with default options must
answer: A/AAAA of ClusterIP Services, of headless Services (their ready endpoints) and of
endpoint names; SRV of named ports; PTR of Service and endpoint addresses. `Checker` remembers
every name it was ever shown, so a deleted Service's names are checked too (NXDOMAIN), and
asks a kdns for all of them:

    checker = Checker(port)
    report = await checker.settle(State.from_api(api))   # retries until right or timed out
    assert report.lost == report.wrong == 0, report.problems

Pods names, ExternalName chains and options (`endpoint_pod_names`, `namespaces`, ...) are
outside what it predicts: their probes are not made. kdns.runtime.apiload makes clusters and
bursts of changes to feed it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import ipaddress
import math
import socket
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import dns.exception
import dns.message
import dns.rcode
import dns.rdatatype

from kdns.corefile import PluginSpec
from kdns.plugins import default_registry
from kdns.plugins.base import BuildContext, Handler
from kdns.plugins.kubernetes import Kubernetes, KubernetesConfig
from kdns.plugins.kubernetes.controller import Controller
from kdns.plugins.kubernetes.watcher import Backoff
from kdns.plugins.loadbalance.weights import canonical_address

Obj = dict[str, Any]
ZONE = "cluster.local."
SERVICE_NAME = "kubernetes.io/service-name"


@dataclass(frozen=True, slots=True, order=True)
class Probe:
    """One question to ask: a name and type, and what the name stands for."""

    qname: str
    qtype: str
    #: "svc" (a Service name), "port" (_port._proto.svc), "endpoint" (ep.svc), "ptr".
    kind: str
    namespace: str = ""
    service: str = ""
    port: str = ""
    proto: str = ""
    endpoint: str = ""
    ip: str = ""


@dataclass(frozen=True, slots=True)
class Expected:
    """An rcode and the answer's data as text (addresses, SRV `0 W PORT TARGET`, PTR)."""

    rcode: str
    data: frozenset[str] = frozenset()

    def __str__(self) -> str:
        return f"{self.rcode} {sorted(self.data)}"


NXDOMAIN = Expected("NXDOMAIN")


def _family(ip: str) -> str:
    return "AAAA" if ":" in ip else "A"


def _dashed(ip: str) -> str:
    if "." in ip:
        return ip.replace(".", "-")
    dashed = ip.replace(":", "-")
    return dashed + "0" if dashed.endswith("-") else dashed


def _ports(items: Any) -> list[tuple[str, str, int]]:
    """(name, protocol, number) of a Service's or slice's ports; none means "no port"."""
    out = []
    for item in items or ():
        number = item.get("port")
        if isinstance(number, int) and not isinstance(number, bool):
            out.append((item.get("name") or "", (item.get("protocol") or "TCP").upper(), number))
    return out


@dataclass(slots=True)
class _Endpoint:
    name: str  # hostname, else the dashed address
    ip: str
    ports: list[tuple[str, str, int]]


@dataclass(slots=True)
class State:
    """The parts of the cluster that decide DNS answers, read once (a snapshot)."""

    namespaces: set[str] = field(default_factory=set)
    #: (namespace, name) -> "ClusterIP" / "Headless" / "ExternalName", ClusterIPs, ports.
    services: dict[tuple[str, str], tuple[str, list[str], list[tuple[str, str, int]]]] = field(
        default_factory=dict
    )
    #: (namespace, service) -> ready endpoints of every slice labelled for it.
    endpoints: dict[tuple[str, str], list[_Endpoint]] = field(
        default_factory=lambda: defaultdict(list)
    )

    @classmethod
    def from_objects(
        cls, namespaces: Iterable[Obj], services: Iterable[Obj], slices: Iterable[Obj]
    ) -> State:
        """Read API objects (as `kubectl get -o json` items)."""
        state = cls()
        state.namespaces = {ns["metadata"]["name"] for ns in namespaces}
        for svc in services:
            meta, spec = svc["metadata"], svc.get("spec") or {}
            key = (meta.get("namespace", "default"), meta["name"])
            ports = _ports(spec.get("ports"))
            if spec.get("type") == "ExternalName":
                state.services[key] = ("ExternalName", [], ports)
                continue
            raw = list(spec.get("clusterIPs") or [spec.get("clusterIP") or ""])
            if raw[0] == "None":
                state.services[key] = ("Headless", [], ports)
                continue
            ips = list(dict.fromkeys(ip for ip in map(canonical_address, raw) if ip is not None))
            state.services[key] = ("ClusterIP", ips, ports)
        for sl in slices:
            meta = sl["metadata"]
            owner = (meta.get("labels") or {}).get(SERVICE_NAME)
            if not owner or sl.get("addressType") not in ("IPv4", "IPv6"):
                continue
            ports = _ports(sl.get("ports"))
            for ep in sl.get("endpoints") or ():
                if (ep.get("conditions") or {}).get("ready") is False:
                    continue
                for text in ep.get("addresses") or ():
                    ip = canonical_address(text)
                    if ip is not None:
                        name = ep.get("hostname") or _dashed(ip)
                        key = (meta.get("namespace", "default"), owner)
                        state.endpoints[key].append(_Endpoint(name, ip, ports))
        return state

    @classmethod
    def from_api(cls, api: Any) -> State:
        """Read the current objects of an in-process `ApiServer`."""
        return cls.from_objects(
            api.list("namespaces")["items"],
            api.list("services")["items"],
            api.list("endpointslices")["items"],
        )

    # -- names ---------------------------------------------------------------------------------

    def probes(self) -> set[Probe]:
        """Every question whose answer this state decides."""
        out: set[Probe] = set()
        for (ns, name), (kind, ips, ports) in self.services.items():
            if kind == "ExternalName":
                continue
            base = f"{name}.{ns}.svc.{ZONE}"
            eps = self.endpoints.get((ns, name), [])
            families = {_family(ip) for ip in ips} | {_family(e.ip) for e in eps}
            out |= {Probe(base, t, "svc", ns, name) for t in families or {"A"}}
            for pname, proto, _ in ports + [p for e in eps for p in e.ports]:
                if pname:
                    qname = f"_{pname}._{proto.lower()}.{base}"
                    out.add(Probe(qname, "SRV", "port", ns, name, pname.lower(), proto.lower()))
            for e in eps:
                qtype = _family(e.ip)
                out.add(Probe(f"{e.name}.{base}", qtype, "endpoint", ns, name, endpoint=e.name))
            for ip in ips:
                out.add(Probe(_reverse(ip), "PTR", "ptr", ip=ip))
        for eps in self.endpoints.values():
            out |= {Probe(_reverse(e.ip), "PTR", "ptr", ip=e.ip) for e in eps}
        return out

    def expect(self, p: Probe) -> Expected | None:
        """What kdns must answer to `p` in this state (None: not predicted, do not check)."""
        if p.kind == "ptr":
            return self._ptr(p.ip)
        svc = self.services.get((p.namespace, p.service))
        if svc is None or p.namespace not in self.namespaces:
            return NXDOMAIN
        kind, ips, ports = svc
        if kind == "ExternalName":
            return None if p.kind == "svc" else NXDOMAIN
        key = f"{p.service}.{p.namespace}.svc.{ZONE}"
        # (address, port, target) per entry, as kdns's Lookup builds them.
        entries: list[tuple[str, int, str]] = []
        eps = self.endpoints.get((p.namespace, p.service), [])
        if kind == "Headless" or p.kind == "endpoint":
            for e in eps:
                if p.kind == "endpoint" and e.name.lower() != p.endpoint:
                    continue
                for pname, proto, number in e.ports or [("", "", -1)]:
                    if _match(p, pname, proto):
                        entries.append((e.ip, number, f"{e.name}.{key}"))
            if not entries:
                return NXDOMAIN
        else:
            matched = False
            for pname, proto, number in ports or [("", "", -1)]:
                if _match(p, pname, proto):
                    matched = True
                    entries += [(ip, number, key) for ip in ips]
            if not matched:
                return NXDOMAIN
        if p.qtype == "SRV":
            weight = max(1, math.floor(100.0 / float(100 * len(entries)) * 100.0))
            srv = {f"0 {weight} {port} {target}" for _, port, target in entries if port != -1}
            return Expected("NOERROR", frozenset(srv))
        return Expected("NOERROR", frozenset(ip for ip, _, _ in entries if _family(ip) == p.qtype))

    def _ptr(self, ip: str) -> Expected | None:
        owners = [k for k, (kind, ips, _) in self.services.items() if ip in ips]
        if len(owners) > 1:
            return None  # kdns names the first one it saw: not predictable from a snapshot
        if owners:
            ns, name = owners[0]
            return Expected("NOERROR", frozenset({f"{name}.{ns}.svc.{ZONE}"}))
        names = {
            f"{e.name}.{svc}.{ns}.svc.{ZONE}"
            for (ns, svc), eps in self.endpoints.items()
            for e in eps
            if e.ip == ip
        }
        return Expected("NOERROR", frozenset(names)) if names else NXDOMAIN


def _match(p: Probe, pname: str, proto: str) -> bool:
    return (not p.port or p.port == pname.lower()) and (not p.proto or p.proto == proto.lower())


def _reverse(ip: str) -> str:
    return ipaddress.ip_address(ip).reverse_pointer + "."


def answer_of(reply: dns.message.Message, qtype: str) -> Expected:
    """Read a reply as an `Expected`: its rcode and the data of records of the asked type."""
    rdtype = dns.rdatatype.from_text(qtype)
    data = {rd.to_text() for rrset in reply.answer if rrset.rdtype == rdtype for rd in rrset}
    return Expected(dns.rcode.to_text(reply.rcode()), frozenset(data))


@dataclass(slots=True)
class Report:
    """What one pass of questions found."""

    sent: int = 0
    lost: int = 0
    wrong: int = 0
    #: Up to `Checker.keep` descriptions of lost or wrong answers.
    problems: list[str] = field(default_factory=list)

    def add(self, other: Report, keep: int = 20) -> None:
        """Add another pass's counts (and some of its problems)."""
        self.sent += other.sent
        self.lost += other.lost
        self.wrong += other.wrong
        self.problems += other.problems[: max(0, keep - len(self.problems))]


class _Asker(asyncio.DatagramProtocol):
    """Many queries in flight on one UDP socket, matched to replies by ID and question."""

    def __init__(self) -> None:
        self.waiting: dict[int, tuple[dns.message.Message, asyncio.Future[bytes]]] = {}
        self.next_id = 0

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        found = self.waiting.get(int.from_bytes(data[:2], "big"))
        if found is not None and not found[1].done():
            found[1].set_result(data)

    async def exchange(
        self, transport: asyncio.DatagramTransport, msg: dns.message.Message, timeout: float
    ) -> dns.message.Message | None:
        """Send `msg`; return its reply, or None if none came within `timeout` seconds."""
        while self.next_id in self.waiting:
            self.next_id = (self.next_id + 1) & 0xFFFF
        msg.id = qid = self.next_id
        self.next_id = (qid + 1) & 0xFFFF
        future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self.waiting[qid] = (msg, future)
        try:
            transport.sendto(msg.to_wire())
            async with asyncio.timeout(timeout):
                while True:
                    data = await future
                    try:
                        reply = dns.message.from_wire(data)
                    except dns.exception.DNSException:
                        reply = None
                    if reply is not None and msg.is_response(reply):
                        return reply
                    # A late reply to an earlier query with this ID: keep waiting.
                    future = asyncio.get_running_loop().create_future()
                    self.waiting[qid] = (msg, future)
        except TimeoutError:
            return None
        finally:
            del self.waiting[qid]


class Checker:
    """Asks a kdns on 127.0.0.1:`port` every name ever implied, and compares the answers."""

    def __init__(
        self, port: int, *, parallel: int = 64, timeout: float = 2.0, keep: int = 20
    ) -> None:
        self.port = port
        self.parallel = parallel
        self.timeout = timeout
        self.keep = keep
        #: Every probe of every state seen: names that went away must now be NXDOMAIN.
        self.known: set[Probe] = set()

    def learn(self, state: State) -> None:
        """Remember the names of `state` (without asking anything)."""
        self.known |= state.probes()

    async def ask(self, probes: Sequence[tuple[Probe, Expected]]) -> Report:
        """Ask each probe once (up to `parallel` at a time); count lost and wrong answers."""
        report = Report()
        loop = asyncio.get_running_loop()
        transport, asker = await loop.create_datagram_endpoint(
            _Asker, remote_addr=("127.0.0.1", self.port)
        )
        sock = transport.get_extra_info("socket")
        if sock is not None:  # replies must not overflow the default buffer in a burst
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
        gate = asyncio.Semaphore(self.parallel)

        def note(text: str) -> None:
            if len(report.problems) < self.keep:
                report.problems.append(text)

        async def one(p: Probe, want: Expected) -> None:
            async with gate:
                report.sent += 1
                msg = dns.message.make_query(p.qname, p.qtype)
                reply = await asker.exchange(transport, msg, self.timeout)
                if reply is None:
                    report.lost += 1
                    note(f"{p.qname} {p.qtype}: no reply")
                    return
                got = answer_of(reply, p.qtype)
                if got != want:
                    report.wrong += 1
                    note(f"{p.qname} {p.qtype}: got {got}, want {want}")

        try:
            await asyncio.gather(*(one(p, want) for p, want in probes))
        finally:
            transport.close()
        return report

    @staticmethod
    def plan_of(state: State) -> list[tuple[Probe, Expected]]:
        """The probes of `state` alone with their answers (for a `Prober` of stable names)."""
        return [(p, w) for p in sorted(state.probes()) if (w := state.expect(p)) is not None]

    def plan(self, state: State) -> list[tuple[Probe, Expected]]:
        """Every known probe (after learning `state`) with the answer `state` implies."""
        self.learn(state)
        out = []
        for p in sorted(self.known):
            want = state.expect(p)
            if want is not None:
                out.append((p, want))
        return out

    async def check(self, state: State) -> Report:
        """Ask every name once against `state`."""
        return await self.ask(self.plan(state))

    async def settle(self, state: State, within: float = 10.0, pause: float = 0.2) -> Report:
        """Check until every answer is right or `within` seconds passed; return the last
        pass (its counts are what is still lost or wrong once kdns had time to catch up)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        plan = self.plan(state)
        while True:
            report = await self.ask(plan)
            if (report.lost == report.wrong == 0) or loop.time() >= deadline:
                return report
            await asyncio.sleep(pause)


class Prober:
    """Asks the same probes over and over in the background, each against a fixed answer.

    For faults during which the names asked do not change (an outage, a slow API, cut
    streams): every reply must be the answer from before the fault.
    """

    def __init__(
        self, checker: Checker, probes: Sequence[tuple[Probe, Expected]], pause: float = 0.01
    ) -> None:
        self.checker = checker
        self.probes = list(probes)
        self.pause = pause
        self.report = Report()
        self._running = False
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while self._running:
            self.report.add(await self.checker.ask(self.probes), self.checker.keep)
            await asyncio.sleep(self.pause)

    async def __aenter__(self) -> Prober:
        self._running = True
        self._task = asyncio.create_task(self._run())
        return self

    async def __aexit__(self, *exc: object) -> None:
        # A flag, not cancel(): Python 3.11's wait_for (inside dnspython) can swallow a cancel.
        self._running = False
        assert self._task is not None
        await self._task


def quick_retry(initial: float = 0.05, cap: float = 0.5) -> dict[str, PluginSpec]:
    """The plugins, with the kubernetes watch retrying a failed API after `initial` seconds,
    doubling up to `cap` (the default, client-go's 0.8 s to 30 s, makes tests wait)."""
    specs = default_registry()

    def build(
        configs: tuple[KubernetesConfig, ...], nxt: Handler | None, ctx: BuildContext
    ) -> Kubernetes:
        handler = Kubernetes(configs, nxt, ctx)
        handler.make_controller = partial(Controller, backoff=Backoff(initial, cap, jitter=0))
        return handler

    specs["kubernetes"] = dataclasses.replace(specs["kubernetes"], build=build)
    return specs
