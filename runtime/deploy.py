"""`kdns deploy SERVICE_CIDR [CLUSTER_DOMAIN]`: print the manifests that run kdns as cluster DNS.

As the seed's deploy.sh does, the output is ready for `kubectl apply -f -`: a ConfigMap with the
Corefile (checked by the same code as `kdns check` first: on an error nothing is printed), the
ServiceAccount and RBAC the Corefile needs, the Deployment, the kube-dns Service at the cluster
IP the existing kube-dns Service has (looked up from the API), and a PodDisruptionBudget.
"""

from __future__ import annotations

import argparse
import ipaddress
import sys
from collections.abc import Mapping, Sequence
from typing import Any, TextIO

import yaml

from kdns.corefile import CorefileError, PluginSpec, loads
from kdns.plugins import default_registry
from kdns.plugins.base import PluginError
from kdns.plugins.kubernetes.config import POD_MODES, Kubeconfig, KubernetesConfig
from kdns.runtime.check import FileReport, check_file, render_text
from kdns.runtime.manifests import (
    DEFAULT_PODS,
    DEFAULT_SERVICES,
    DeployOptions,
    Manifest,
    corefile_text,
    manifests,
)

#: The Corefile name the generated Corefile is checked (and reported) under.
GENERATED = "<generated Corefile>"
#: Seconds the cluster IP lookup may take before the fallback is used.
LOOKUP_TIMEOUT = 5.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the command's arguments to a (sub)parser."""
    parser.add_argument(
        "service_cidr",
        metavar="SERVICE_CIDR",
        help="the cluster's service CIDR (comma-separated for dual stack), served as reverse zones",
    )
    parser.add_argument(
        "domain",
        nargs="?",
        default="cluster.local",
        metavar="CLUSTER_DOMAIN",
        help="the cluster domain (default: cluster.local)",
    )
    parser.add_argument("--namespace", default="kube-system", help="default: kube-system")
    parser.add_argument(
        "--name",
        default="coredns",
        help="name of the ConfigMap, Deployment, ServiceAccount and PodDisruptionBudget "
        "(default: coredns, so kubeadm's CoreDNS is replaced in place)",
    )
    parser.add_argument("--replicas", type=int, default=2, help="default: 2")
    parser.add_argument("--image", default="kdns:latest", help="default: kdns:latest")
    parser.add_argument(
        "--pods", choices=POD_MODES, default="insecure", help="pod records (default: insecure)"
    )
    parser.add_argument(
        "--upstream",
        action="append",
        metavar="ADDRESS",
        help="where other names are forwarded; repeatable (default: /etc/resolv.conf)",
    )
    parser.add_argument(
        "--corefile",
        metavar="FILE",
        help="ship this Corefile instead of the generated one (SERVICE_CIDR then only sets "
        "the fallback cluster IP)",
    )
    parser.add_argument(
        "--cluster-ip", metavar="IP", help="the kube-dns cluster IP; skips the API lookup"
    )
    parser.add_argument("--kubeconfig", metavar="FILE", help="look the cluster IP up with this")
    parser.add_argument("--context", help="the kubeconfig context to use")
    parser.add_argument("--server", metavar="URL", help="look the cluster IP up at this API")
    parser.add_argument(
        "--no-service",
        dest="service",
        action="store_false",
        help="leave the existing kube-dns Service alone (GKE: the addon manager owns it)",
    )
    parser.add_argument(
        "--services",
        type=int,
        default=DEFAULT_SERVICES,
        metavar="N",
        help=f"Services the memory request is sized for (default: {DEFAULT_SERVICES})",
    )
    parser.add_argument(
        "--pod-count",
        type=int,
        default=DEFAULT_PODS,
        metavar="N",
        help=f"Pods the memory request is sized for (default: {DEFAULT_PODS})",
    )


class DeployError(Exception):
    """A problem with the command line that is reported as a usage error."""


def parse_cidrs(text: str) -> tuple[str, ...]:
    """Return the service CIDRs in `text` (comma-separated), normalised; raise DeployError."""
    cidrs = []
    for part in text.split(","):
        try:
            cidrs.append(str(ipaddress.ip_network(part.strip(), strict=True)))
        except ValueError as exc:
            raise DeployError(f"SERVICE_CIDR '{part}' is not a network: {exc}") from None
    return tuple(cidrs)


def tenth_address(cidr: str) -> str:
    """Return the 10th address of `cidr`, where kubeadm and most installers put kube-dns."""
    network = ipaddress.ip_network(cidr)
    if network.num_addresses <= 11:
        raise DeployError(f"SERVICE_CIDR {cidr} is too small to hold a 10th address")
    return str(network.network_address + 10)


def lookup_cluster_ip(
    namespace: str,
    name: str,
    *,
    server: str | None = None,
    kubeconfig: str | None = None,
    context: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> tuple[str | None, str]:
    """Ask the API for the Service's cluster IP; return (IP or None, where or why not).

    The API is found as the kubernetes plugin finds it (kdns.plugins.kubernetes.connect):
    `kubeconfig`, else `server`, else in-cluster, else $KUBECONFIG and ~/.kube/config.
    """
    import kubernetes.client  # here, not at the top: `kdns check` need not load the client
    from kubernetes.client.exceptions import ApiException

    from kdns.plugins.kubernetes.connect import configure

    config = KubernetesConfig(
        zones=("cluster.local.",),
        endpoint=server,
        kubeconfig=Kubeconfig(kubeconfig, context) if kubeconfig else None,
    )
    try:
        conf, source = configure(config, environ=environ)
    except PluginError as exc:
        if server is None and kubeconfig is None:
            return None, "no API found: not in a cluster, no $KUBECONFIG, no ~/.kube/config"
        return None, str(exc).removeprefix("plugin/kubernetes: ")
    api: Any = kubernetes.client
    client = api.ApiClient(conf)
    try:
        svc = api.CoreV1Api(client).read_namespaced_service(
            name, namespace, _request_timeout=LOOKUP_TIMEOUT
        )
    except ApiException as exc:
        if exc.status == 404:
            return None, f"there is no Service {namespace}/{name} at {conf.host} ({source})"
        return None, f"the API at {conf.host} ({source}) answered {exc.status} {exc.reason}"
    except Exception as exc:  # urllib3 connection errors, timeouts, TLS
        return None, f"cannot reach the API at {conf.host} ({source}): {exc}"
    finally:
        client.close()
    ip = svc.spec.cluster_ip if svc.spec is not None else None
    if not ip or ip == "None":
        return None, f"Service {namespace}/{name} has no cluster IP (headless)"
    return str(ip), f"Service {namespace}/{name} at {conf.host} ({source})"


def _check_text(text: str, registry: Mapping[str, PluginSpec]) -> FileReport:
    """Check generated Corefile text as `kdns check` checks a file (check_file, in memory)."""
    try:
        model = loads(text, registry, path=GENERATED)
    except CorefileError as exc:
        return FileReport(GENERATED, list(exc.diagnostics), {GENERATED: text, **exc.sources})
    return FileReport(GENERATED, list(model.warnings), {GENERATED: text}, model)


def _corefile(args: argparse.Namespace, registry: Mapping[str, PluginSpec]) -> FileReport:
    if args.corefile is None:
        upstreams = tuple(args.upstream or ("/etc/resolv.conf",))
        text = corefile_text(args.cidrs, args.domain, args.pods, upstreams)
        return _check_text(text, registry)
    report = check_file(args.corefile, registry)
    if report.model is not None:
        imported = [p for p in report.model.inputs if p != args.corefile]
        if imported:
            raise DeployError(
                f"{args.corefile} imports {', '.join(imported)}, which the ConfigMap would "
                "not carry: inline them into one Corefile"
            )
    return report


def _cluster_ip(args: argparse.Namespace, err: TextIO) -> str:
    cidrs = [ipaddress.ip_network(c) for c in args.cidrs]
    if args.cluster_ip is not None:
        try:
            ip = str(ipaddress.ip_address(args.cluster_ip))
        except ValueError:
            raise DeployError(f"--cluster-ip '{args.cluster_ip}' is not an IP address") from None
    else:
        found, why = lookup_cluster_ip(
            args.namespace,
            "kube-dns",
            server=args.server,
            kubeconfig=args.kubeconfig,
            context=args.context,
        )
        if found is None:
            ip = tenth_address(args.cidrs[0])
            print(
                f"kdns deploy: warning: cluster IP not looked up ({why}); using {ip}, the 10th "
                "address of the service CIDR - give --cluster-ip if kube-dns has another",
                file=err,
            )
            return ip
        ip = found
    if not any(ipaddress.ip_address(ip) in net for net in cidrs):
        print(
            f"kdns deploy: warning: cluster IP {ip} is outside SERVICE_CIDR "
            f"{','.join(args.cidrs)}: its reverse zone is not served",
            file=err,
        )
    return ip


class _Dumper(yaml.SafeDumper):
    """Writes multi-line strings (the Corefile) as literal blocks, as people write them."""

    def ignore_aliases(self, data: Any) -> bool:
        """Write repeated objects out in full: no `&id001` anchors in a manifest."""
        return True


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def render(objects: Sequence[Manifest], header: str = "") -> str:
    """Return the objects as one multi-document YAML stream, each document after `---`."""
    docs = [
        yaml.dump(o, Dumper=_Dumper, sort_keys=False, default_flow_style=False) for o in objects
    ]
    return header + "".join(f"---\n{d}" for d in docs)


def _header(options: DeployOptions, argv: str) -> str:
    return (
        f"# Generated by: kdns deploy {argv}\n"
        f"# Memory is sized for {options.services} Services and {options.pods} Pods "
        f"(--services, --pod-count) from kdns's\n"
        "# measured model (docs/performance.md): 80 MiB + 0.55 MiB per 1,000 Services and "
        "endpoints\n"
        "# (+ 0.31 MiB per 1,000 Pods with `pods verified`); the limit allows the re-list peak "
        "(1.2x)\n# and 32 MiB of answers and caches.\n"
    )


def run(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Print the manifests to `out` (stdout); return 0, 1 for an invalid Corefile, 2 for usage."""
    out = sys.stdout if out is None else out
    err = sys.stderr if err is None else err
    registry = default_registry()
    try:
        if args.replicas < 1:
            raise DeployError(f"--replicas must be at least 1, not {args.replicas}")
        args.cidrs = parse_cidrs(args.service_cidr)
        report = _corefile(args, registry)
        if report.model is None or report.diagnostics:
            text = render_text(report, registry, explain_=False)
            print(text, file=err)
            if report.model is None:
                return 1
        cluster_ip = _cluster_ip(args, err)
    except DeployError as exc:
        print(f"kdns deploy: {exc}", file=err)
        return 2
    options = DeployOptions(
        cluster_ip=cluster_ip,
        namespace=args.namespace,
        name=args.name,
        replicas=args.replicas,
        image=args.image,
        service=args.service,
        services=args.services,
        pods=args.pod_count,
    )
    text = report.sources[report.path]  # as read and checked, shipped byte for byte
    objects = manifests(text, report.model, options)
    argv = " ".join(a for a in (args.service_cidr, args.domain) if a)
    out.write(render(objects, _header(options, argv)))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run `kdns deploy` on its own (tests, `python -m kdns.runtime.deploy`)."""
    parser = argparse.ArgumentParser(prog="kdns deploy")
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
