"""Security over real sockets: no UDP amplification, minimal ANY, spoofed pod names refused,
no credentials in logs, a non-root least-privilege deployment.

Covered elsewhere and not repeated here: `acl` block (REFUSED + EDE 15), filter (NOERROR empty
+ EDE 17) and drop (no reply) in tests/runtime/test_small_plugins_serve.py
(test_acl_allows_blocks_filters_and_drops) and per rule in tests/plugins/test_acl_handler.py;
`any` (one HINFO, RFC 8482) in test_any_answers_hinfo_and_passes_other_types; the RBAC rules
per Corefile in tests/runtime/test_deploy.py (test_rbac_follows_the_corefile,
test_printed_cluster_role); `pods verified` case by case in tests/runtime/test_kubernetes_serve.py.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path

import dns.exception
import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import pytest
import yaml

from kdns.plugins.kubernetes.apiserver import ApiServer
from kdns.runtime.cli import main
from kdns.runtime.testing import free_port, query, running, start_kdns

#: Addresses of the big names: 100 for hosts and file (1.6 kB: cut at 512 and 1232, whole at
#: 4096), 200 for the headless Service.
ANSWERS = 100
ENDPOINTS = 200
#: UDP payload limits to ask with: None is a query without EDNS (512 bytes, RFC 1035).
SIZES = [None, 1232, 4096]


async def raw_udp(port: int, wire: bytes, timeout: float = 2.0) -> bytes:
    """Send one datagram to 127.0.0.1:port and return the first datagram back, as bytes."""
    loop = asyncio.get_running_loop()
    got: asyncio.Future[bytes] = loop.create_future()

    class One(asyncio.DatagramProtocol):
        def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
            if not got.done():
                got.set_result(data)

    transport, _ = await loop.create_datagram_endpoint(One, remote_addr=("127.0.0.1", port))
    try:
        transport.sendto(wire)
        return await asyncio.wait_for(got, timeout)
    finally:
        transport.close()


async def check_sizes(port: int, name: str, qtype: str, full: int) -> None:
    """Over UDP a reply never exceeds what the query allows, and is TC when the `full` answer
    (as many records as TCP gets) does not fit; TCP then returns all of it."""
    tcp = await query(port, name, qtype, tcp=True)
    assert sum(len(rrs) for rrs in tcp.answer) == full, f"{name} over TCP"
    for size in SIZES:
        msg = dns.message.make_query(name, qtype, use_edns=size is not None, payload=size or 512)
        wire = await raw_udp(port, msg.to_wire())
        limit = size or 512
        reply = dns.message.from_wire(wire)
        got = sum(len(rrs) for rrs in reply.answer)
        assert len(wire) <= limit, f"{name} {qtype}: {len(wire)} bytes for a {limit}-byte query"
        assert reply.rcode() == dns.rcode.NOERROR, name
        if got < full:
            assert reply.flags & dns.flags.TC, f"{name}: {got} of {full} records without TC"
        if size == 4096 and qtype == "A":
            assert got == full, f"{name}: {full} A records fit in 4096 bytes"


def big_zone(folder: Path) -> Path:
    """A zone whose TXT record is one 3,000-byte RR (cannot be split) and a 200-A name."""
    strings = " ".join(f'"{chr(97 + i) * 250}"' for i in range(12))
    lines = [
        "$ORIGIN zone.test.",
        "@ 300 IN SOA ns.zone.test. admin.zone.test. 1 7200 3600 1209600 300",
        "@ 300 IN NS ns.zone.test.",
        "ns 300 IN A 192.0.2.53",
        f"txt 300 IN TXT {strings}",
        *(f"many 300 IN A 10.2.{i // 250}.{i % 250 + 1}" for i in range(ANSWERS)),
    ]
    path = folder / "db.zone.test"
    path.write_text("\n".join(lines) + "\n")
    return path


def back_corefile(port: int, zone: Path) -> str:
    hosts = "\n".join(f"        10.1.{i // 250}.{i % 250 + 1} big.test" for i in range(ANSWERS))
    return (
        f"big.test:{port} {{\n    hosts {{\n{hosts}\n    }}\n}}\n"
        f"zone.test:{port} {{\n    file {zone}\n}}\n"
        f"cached.test:{port} {{\n    cache 30\n    hosts {{\n{hosts.replace('big', 'cached')}\n"
        "    }\n}\n"
    )


async def test_udp_replies_never_exceed_the_query_size(tmp_path: Path) -> None:
    """hosts, file (a 3 kB TXT), cache filled over TCP first, and forward (with cache, filled
    over TCP first) in front of them: every UDP reply fits 512 / the EDNS size, TC when cut."""
    back, front = free_port(), free_port()
    zone = big_zone(tmp_path)
    (tmp_path / "front").mkdir()
    front_corefile = f".:{front} {{\n    cache 30\n    forward . 127.0.0.1:{back}\n}}\n"
    async with (
        running(back_corefile(back, zone), tmp_path),
        running(front_corefile, tmp_path / "front"),
    ):
        for port in (back, front):  # direct, then through forward and its cache
            await check_sizes(port, "big.test", "A", ANSWERS)
            await check_sizes(port, "cached.test", "A", ANSWERS)
            await check_sizes(port, "many.zone.test", "A", ANSWERS)
            await check_sizes(port, "txt.zone.test", "TXT", 1)
        # cached entries again, now answered from the caches, UDP first
        for port in (back, front):
            await check_sizes(port, "cached.test", "A", ANSWERS)


async def test_any_without_the_any_plugin_is_not_amplified(tmp_path: Path) -> None:
    """Without `any`, ANY for a 200-address hosts name is answered as CoreDNS's hosts does:
    NOERROR with no records (it answers A, AAAA and PTR only), a few dozen bytes."""
    port = free_port()
    async with running(back_corefile(port, big_zone(tmp_path)), tmp_path):
        wire = await raw_udp(port, dns.message.make_query("big.test", "ANY").to_wire())
        reply = dns.message.from_wire(wire)
        assert (reply.rcode(), reply.answer) == (dns.rcode.NOERROR, [])
        assert len(wire) < 100


def headless_cluster(folder: Path) -> Path:
    """A namespace with a headless Service selecting 200 ready pods."""
    docs: list[dict[str, object]] = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "big"}},
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "many", "namespace": "big"},
            "spec": {
                "clusterIP": "None",
                "selector": {"app": "many"},
                "ports": [{"name": "http", "port": 80, "protocol": "TCP"}],
            },
        },
    ]
    for i in range(ENDPOINTS):
        docs.append(
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": f"many-{i}", "namespace": "big", "labels": {"app": "many"}},
                "spec": {"containers": [{"name": "c", "image": "x"}]},
                "status": {"podIP": f"10.244.{i // 250}.{i % 250 + 1}"},
            }
        )
    path = folder / "cluster.yaml"
    path.write_text(yaml.safe_dump_all(docs))
    return path


async def test_kubernetes_headless_200_endpoints_and_spoofed_pod_names(tmp_path: Path) -> None:
    """A headless Service with 200 endpoints: UDP replies fit the query size with TC (through
    cache too), TCP has all 200; ANY is NODATA. `pods verified`: a pod-IP name answers only
    when a pod has that IP in that namespace (NXDOMAIN for a spoofed one)."""
    port = free_port()
    async with ApiServer([headless_cluster(tmp_path)], poll_interval=0) as api:
        corefile = (
            f".:{port} {{\n    cache 30\n    kubernetes cluster.local {{\n"
            f"        endpoint {api.url}\n        pods verified\n    }}\n}}\n"
        )
        async with running(corefile, tmp_path):
            name = "many.big.svc.cluster.local."
            deadline = time.monotonic() + 10
            while sum(len(r) for r in (await query(port, name, tcp=True)).answer) < ENDPOINTS:
                assert time.monotonic() < deadline, "the 200 endpoints never showed"
                await asyncio.sleep(0.05)
            await check_sizes(port, name, "A", ENDPOINTS)
            await check_sizes(port, name, "A", ENDPOINTS)  # from the cache now
            anyq = await raw_udp(port, dns.message.make_query(name, "ANY").to_wire())
            assert len(anyq) <= 512
            assert dns.message.from_wire(anyq).answer == []
            real = await query(port, "10-244-0-7.big.pod.cluster.local.")
            assert [rd.address for rrs in real.answer for rd in rrs] == ["10.244.0.7"]
            for spoof in (
                "10-244-9-9.big.pod.cluster.local.",  # no pod has this IP
                "10-244-0-7.default.pod.cluster.local.",  # a pod's IP, another namespace
                "1-2-3-4.big.pod.cluster.local.",
            ):
                assert (await query(port, spoof)).rcode() == dns.rcode.NXDOMAIN, spoof


# -- credentials never logged --------------------------------------------------------------------

TOKEN = "kdns-test-bearer-0123456789abcdef-SECRET"
KEY_PEM = (
    "-----BEGIN PRIVATE KEY-----\n"
    "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQDkdnsSECRETKEY0\n"
    "-----END PRIVATE KEY-----\n"
)


def secret_kubeconfig(path: Path, url: str) -> Path:
    """A kubeconfig with a bearer token and client key data (the key never parsed over http)."""
    user = {
        "token": TOKEN,
        "client-key-data": base64.b64encode(KEY_PEM.encode()).decode(),
    }
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "c", "cluster": {"server": url}}],
        "users": [{"name": "u", "user": user}],
        "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
        "current-context": "x",
    }
    path.write_text(yaml.safe_dump(config))
    return path


def leaks(text: str) -> list[str]:
    """Return every credential fragment found in `text`."""
    key_b64 = base64.b64encode(KEY_PEM.encode()).decode()
    fragments = [TOKEN, TOKEN[12:30], "SECRETKEY0", key_b64[:24], "Bearer kdns"]
    return [f for f in fragments if f in text]


@contextlib.asynccontextmanager
async def kdns_logging(conf: Path) -> AsyncIterator[asyncio.subprocess.Process]:
    proc = await start_kdns(
        "-conf", str(conf), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    try:
        yield proc
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
            await asyncio.wait_for(proc.wait(), 15)


async def test_logs_never_contain_the_kubeconfig_credentials(tmp_path: Path) -> None:
    """With log, errors and debug (DEBUG lines on), through a sync, a 410 re-list, cut watch
    streams and the API server going down: the token and the key appear nowhere in the
    output, and the output is not empty (the faults were logged)."""
    api_port, port = free_port(), free_port()
    api = ApiServer([headless_cluster(tmp_path)], port=api_port, poll_interval=0)
    kubeconfig = secret_kubeconfig(tmp_path / "kubeconfig", f"http://127.0.0.1:{api_port}")
    conf = tmp_path / "Corefile"
    conf.write_text(
        f".:{port} {{\n    debug\n    log\n    errors\n    kubernetes cluster.local {{\n"
        f"        kubeconfig {kubeconfig}\n        startup_timeout 200ms\n    }}\n}}\n"
    )
    name = "many.big.svc.cluster.local."
    async with api, kdns_logging(conf) as proc:
        deadline = time.monotonic() + 10
        while True:
            with contextlib.suppress(dns.exception.Timeout):
                if (await query(port, name, timeout=0.3)).answer:
                    break
            assert time.monotonic() < deadline, "never synced"
            await asyncio.sleep(0.05)
        api.expire()
        api.cut_watches()
        await asyncio.sleep(0.5)
        await api.stop()  # down: connection refused, logged
        await asyncio.sleep(1.0)
        for _ in range(3):
            await query(port, name)
            await query(port, "nosuch.big.svc.cluster.local.")
        proc.send_signal(signal.SIGTERM)
        assert proc.stdout is not None
        out = (await asyncio.wait_for(proc.stdout.read(), 15)).decode(errors="replace")
    assert "[DEBUG]" in out
    assert "plugin/kubernetes" in out
    assert name in out  # the log plugin's query lines
    assert leaks(out) == [], out[-2000:]


# -- the deployment ------------------------------------------------------------------------------


@pytest.mark.parametrize("pods", ["insecure", "verified"])
def test_deployment_runs_non_root_with_least_privilege(
    capsys: pytest.CaptureFixture[str], pods: str
) -> None:
    """`kdns deploy`: the pod and container run as a non-root user, cannot escalate, drop every
    capability but NET_BIND_SERVICE, read-only root; the ClusterRole grants list and watch only,
    on exactly the resources the Corefile's kubernetes block reads."""
    code = main(["deploy", "10.3.0.0/24", "--cluster-ip", "10.3.0.10", "--pods", pods])
    out = capsys.readouterr().out
    assert code == 0
    objs = {d["kind"]: d for d in yaml.safe_load_all(out) if d}
    pod = objs["Deployment"]["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    assert pod.get("hostNetwork", False) is False
    for container in pod["containers"]:
        ctx = container["securityContext"]
        assert ctx["allowPrivilegeEscalation"] is False
        assert ctx["readOnlyRootFilesystem"] is True
        assert ctx["runAsNonRoot"] is True
        assert ctx.get("privileged", False) is False
        assert ctx["capabilities"] == {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]}
    rules = objs["ClusterRole"]["rules"]
    granted = {
        (group, resource, verb)
        for rule in rules
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }
    wanted = {("", "namespaces"), ("", "services"), ("discovery.k8s.io", "endpointslices")}
    if pods == "verified":
        wanted.add(("", "pods"))
    assert granted == {(g, r, v) for g, r in wanted for v in ("list", "watch")}
    binding = objs["ClusterRoleBinding"]
    assert binding["roleRef"]["name"] == objs["ClusterRole"]["metadata"]["name"]
    assert [s["kind"] for s in binding["subjects"]] == ["ServiceAccount"]
    assert "Role" not in objs  # nothing namespaced beyond that
    assert "RoleBinding" not in objs
