"""The Dockerfile builds an image that runs the seed's walkthrough as a non-root user.

No container registry is reachable from the machines this project is built on, so the
Dockerfile's default base, python:3.11-slim, cannot be pulled. The test builds the Dockerfile
with podman (Debian's package) on a stand-in base passed as `--build-arg BASE=...`: Debian
bookworm, the distribution python:3.11-slim is built on, with Debian's python3.11, python3-venv
and python3-dev, made with debootstrap from Debian's packages and kept in podman's storage for
the next run. Both build stages, the COPYs, the compiler in the build stage (Debian's gcc), the
wheel build (dependencies from PyPI; setup.py's compiled modules) and the non-root runtime stage
are real; what is not checked here is the real python:3.11-slim layer
(CPython built into /usr/local) and Docker's own builder.

The image then runs the seed's walkthrough as a Pod would run it: the project's API server in
one container and kdns with the seed's Corefile in a second container sharing its network
namespace, both as uid 65532 with a read-only root filesystem, all capabilities dropped but
NET_BIND_SERVICE, and net.ipv4.ip_unprivileged_port_start=0 as `kdns deploy` sets it.

Needs podman, runc and debootstrap from Debian (.ci/test installs them), and root.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
BASE_TAG = "localhost/kdns-test-base:bookworm-python3.11-dev"
# crun (podman's default here) refuses cgroup v1 hybrid hosts; runc runs on them.
PODMAN = ["podman", "--runtime", "runc"]
# This sandbox forbids raising the process limits podman asks for by default.
ULIMITS = ["--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"]
# The seed's lookups and what the seed's cluster (examples/cluster.yaml) answers.
SEED_LOOKUPS = {
    "kubernetes.default.svc.cluster.local A": ["10.3.0.1"],
    "kube-dns.kube-system.svc.cluster.local A": ["10.3.0.10"],
    "1.0.3.10.in-addr.arpa PTR": ["kubernetes.default.svc.cluster.local."],
    "10.0.3.10.in-addr.arpa PTR": ["kube-dns.kube-system.svc.cluster.local."],
}
# Run inside the kdns container (its own python and dnslib): ask the seed's lookups over UDP
# and TCP on port 53, read /health, and report what the process and filesystem look like.
PROBE = """
import json, os, socket, struct, sys, time, urllib.request
import dnslib
def ask(name, qtype, tcp):
    query = dnslib.DNSRecord.question(name, qtype).pack()
    kind = socket.SOCK_STREAM if tcp else socket.SOCK_DGRAM
    with socket.socket(socket.AF_INET, kind) as s:
        s.settimeout(2)
        s.connect(("127.0.0.1", 53))
        if tcp:
            s.sendall(struct.pack("!H", len(query)) + query)
            size = struct.unpack("!H", s.recv(2))[0]
            data = b""
            while len(data) < size:
                data += s.recv(size - len(data))
        else:
            s.send(query)
            data = s.recv(4096)
    return sorted(str(rr.rdata) for rr in dnslib.DNSRecord.parse(data).rr)
deadline = time.monotonic() + 30
while True:
    try:
        ask("kubernetes.default.svc.cluster.local", "A", False)
        break
    except OSError:
        if time.monotonic() > deadline:
            raise
        time.sleep(0.2)
out = {"uid": os.getuid(), "gid": os.getgid()}
for key in sys.argv[1:]:
    name, qtype = key.split()
    out[key] = ask(name, qtype, False)
    out[key + " tcp"] = ask(name, qtype, True)
out["health"] = urllib.request.urlopen("http://127.0.0.1:8080/health", timeout=2).read().decode()
out["leftovers"] = [p for p in ("/src", "/wheels", "/opt/kdns/bin/pip") if os.path.exists(p)]
try:
    open("/opt/kdns/written", "w")
    out["root_fs"] = "writable"
except OSError:
    out["root_fs"] = "read-only"
print(json.dumps(out))
"""


def podman(*args: str, timeout: float = 60, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run podman with this machine's runtime; fail the test with its output when it fails."""
    done = subprocess.run(
        [*PODMAN, *args], capture_output=True, text=True, timeout=timeout, check=False
    )
    if check and done.returncode != 0:
        pytest.fail(f"podman {' '.join(args[:3])}... failed:\n{done.stdout}\n{done.stderr}")
    return done


def make_base() -> None:
    """Build the stand-in base image with debootstrap unless podman already has it."""
    if podman("image", "exists", BASE_TAG, check=False).returncode == 0:
        return
    with tempfile.TemporaryDirectory(prefix="kdns-base-") as tmp:
        rootfs = Path(tmp) / "rootfs"
        # No mirror given: debootstrap takes Debian's default one.
        # python3-dev: python:3.11-slim carries Python's headers, which setup.py's compile needs
        command = ["debootstrap", "--variant=minbase", "--include=python3,python3-venv,python3-dev"]
        subprocess.run(
            [*command, "bookworm", str(rootfs)],
            check=True,
            capture_output=True,
            timeout=600,
        )
        shutil.rmtree(rootfs / "var/lib/apt/lists", ignore_errors=True)
        for deb in (rootfs / "var/cache/apt/archives").glob("*.deb"):
            deb.unlink()
        with subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE) as tar:
            subprocess.run(
                [*PODMAN, "import", "-", BASE_TAG],
                stdin=tar.stdout,
                check=True,
                capture_output=True,
            )
        assert tar.returncode == 0


@pytest.fixture(scope="module")
def image() -> Iterator[str]:
    """Build the repository's Dockerfile on the stand-in base; yield the image ID."""
    for tool in ("podman", "runc", "debootstrap"):
        assert shutil.which(tool), f"{tool} is missing: apt-get install podman runc debootstrap"
    make_base()
    with tempfile.TemporaryDirectory(prefix="kdns-build-") as tmp:
        # pip inside the build reaches PyPI through this machine's network and certificates.
        pip_conf = Path(tmp) / "pip.conf"
        pip_conf.write_text("[global]\ncert = /etc/ssl/certs/ca-certificates.crt\n")
        iidfile = Path(tmp) / "iid"
        podman(
            "build",
            "--layers=false",
            *ULIMITS,
            "--network",
            "host",
            "--volume",
            "/etc/ssl/certs/ca-certificates.crt:/etc/ssl/certs/ca-certificates.crt:ro",
            "--volume",
            f"{pip_conf}:/etc/pip.conf:ro",
            "--build-arg",
            f"BASE={BASE_TAG}",
            "--iidfile",
            str(iidfile),
            str(ROOT),
            timeout=900,
        )
        image_id = iidfile.read_text().strip()
    yield image_id
    podman("rmi", "--force", image_id, check=False)


def test_the_dockerfile_defaults_to_python_slim() -> None:
    """Both stages start from python:3.11-slim unless the build is told otherwise."""
    lines = (ROOT / "Dockerfile").read_text().splitlines()
    assert "ARG BASE=python:3.11-slim" in lines
    assert [line for line in lines if line.startswith("FROM")] == [
        "FROM ${BASE} AS build",
        "FROM ${BASE}",
    ]


def test_image_runs_kdns_as_the_seed_does(image: str) -> None:
    """The image's user, ports, entrypoint and arguments are those the manifests rely on."""
    config = json.loads(podman("image", "inspect", image).stdout)[0]["Config"]
    assert config["User"] == "65532:65532"
    assert config["Entrypoint"] == ["kdns"]
    assert config["Cmd"] == ["-conf", "/etc/coredns/Corefile"]
    assert set(config["ExposedPorts"]) == {"53/udp", "53/tcp", "9153/tcp", "8080/tcp", "8181/tcp"}


def test_kdns_check_runs_in_the_image(image: str, tmp_path: Path) -> None:
    """Arguments after the image name reach `kdns`: `check` reports a broken Corefile."""
    conf = tmp_path / "conf"
    conf.mkdir(mode=0o755)  # readable by uid 65532 (pytest's tmp_path is not)
    (conf / "Corefile").write_text(".:53 {\n    forwrd . 1.1.1.1\n}\n")
    done = podman(
        "run", "--rm", *ULIMITS, "--network", "none", "-v", f"{conf}:/etc/coredns:ro",
        image, "check", "/etc/coredns/Corefile",
        check=False,
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    assert "Corefile:2:5: error: unknown plugin 'forwrd' - did you mean 'forward'?" in done.stdout


def test_the_image_runs_the_compiled_build(image: str) -> None:
    """The build stage compiled the per-query modules (gcc there, not in the image)."""
    done = podman("run", "--rm", *ULIMITS, "--network", "none", image, "--version")
    assert done.stdout.splitlines()[1].endswith(", compiled"), done.stdout
    done = podman(
        "run", "--rm", *ULIMITS, "--network", "none", "--entrypoint", "sh", image,
        "-c", "command -v gcc cc || echo none",
    )  # fmt: skip
    assert done.stdout.strip() == "none"


def test_seed_walkthrough_in_containers(image: str, tmp_path: Path) -> None:
    """The seed's Corefile served from the image answers the seed's lookups and logs them."""
    share, conf = tmp_path / "share", tmp_path / "conf"
    share.mkdir()
    conf.mkdir(mode=0o755)
    share.chmod(0o777)  # the API server, as uid 65532, writes its kubeconfig here
    shutil.copy(ROOT / "examples/cluster.yaml", share / "cluster.yaml")
    shutil.copy(ROOT / "examples/seed.corefile", conf / "Corefile")
    api, dns = f"kdns-test-api-{uuid.uuid4().hex[:8]}", f"kdns-test-dns-{uuid.uuid4().hex[:8]}"
    locked = [*ULIMITS, "--read-only", "--cap-drop", "ALL"]
    try:
        podman(
            "run", "-d", "--name", api, *locked, "--network", "none",
            "--sysctl", "net.ipv4.ip_unprivileged_port_start=0",
            "-v", f"{share}:/share", image,
            "apiserver", "/share/cluster.yaml",
            "--port", "6443", "--kubeconfig", "/share/kubeconfig",
        )  # fmt: skip
        deadline = time.monotonic() + 30
        while not (share / "kubeconfig").exists():
            assert time.monotonic() < deadline, podman("logs", api).stderr
            time.sleep(0.1)
        podman(
            "run", "-d", "--name", dns, *locked, "--cap-add", "NET_BIND_SERVICE",
            "--network", f"container:{api}", "-e", "KUBECONFIG=/share/kubeconfig",
            "-v", f"{share}:/share:ro", "-v", f"{conf}:/etc/coredns:ro", image,
        )  # fmt: skip
        probe = podman("exec", dns, "python", "-c", PROBE, *SEED_LOOKUPS, check=False)
        logs = podman("logs", dns)
        assert probe.returncode == 0, f"{probe.stderr}\n{logs.stdout}\n{logs.stderr}"
        seen = json.loads(probe.stdout)
    finally:
        podman("rm", "--force", "--time", "1", dns, check=False)
        podman("rm", "--force", "--time", "1", api, check=False)
    assert (seen["uid"], seen["gid"]) == (65532, 65532)
    for key, answer in SEED_LOOKUPS.items():
        assert seen[key] == answer, key
        assert seen[key + " tcp"] == answer, key
    assert seen["health"] == "OK"
    assert seen["leftovers"] == []
    assert seen["root_fs"] == "read-only"
    output = logs.stdout + logs.stderr
    assert ".:53\n" in output
    assert '"A IN kubernetes.default.svc.cluster.local. udp 54 false 512" NOERROR' in output
    assert '"PTR IN 10.0.3.10.in-addr.arpa. tcp 40 false 65535" NOERROR' in output
