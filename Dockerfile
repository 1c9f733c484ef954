# kdns container image: `docker build -t kdns .` (or `podman build`, `buildah bud`).
#
# Two stages on the same base: the first builds kdns's wheel (and its dependencies' wheels)
# and installs them into a virtualenv at /opt/kdns; the second copies that virtualenv onto a
# clean base and runs it as a non-root user. No compiler, wheel or build tool reaches the
# final image, and the final stage runs no command of its own (no RUN): what the base image
# ships is all there is.
#
# The container runs as CoreDNS's does in the seed's Deployment: the Pod passes
# `args: ["-conf", "/etc/coredns/Corefile"]` and mounts the ConfigMap there. As uid 65532 it
# binds port 53 only where unprivileged ports start at 0: `kdns deploy` sets the Pod sysctl
# net.ipv4.ip_unprivileged_port_start=0 (docker run sets it by default); elsewhere serve
# on a port >= 1024 (`-dns.port 1053`).
ARG BASE=python:3.11-slim

FROM ${BASE} AS build
# gcc for the per-query modules setup.py compiles with mypyc (python:3.11-slim has Python's
# headers; without them kdns builds uncompiled). It stays in this stage.
RUN apt-get update -qq \
    && apt-get install -y -qq --no-install-recommends gcc libc6-dev >/dev/null \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml README.md setup.py ./
COPY grammar/ grammar/
COPY corefile/ corefile/
COPY plugins/ plugins/
COPY runtime/ runtime/
RUN python3 -m venv /opt/kdns \
    && /opt/kdns/bin/python -m pip wheel --no-cache-dir --wheel-dir /wheels . \
    && /opt/kdns/bin/python -m pip install --no-cache-dir --no-index --find-links /wheels kdns \
    && /opt/kdns/bin/python -m pip uninstall --yes pip \
    && /opt/kdns/bin/kdns check /dev/null

FROM ${BASE}
COPY --from=build /opt/kdns /opt/kdns
ENV PATH=/opt/kdns/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
WORKDIR /etc/coredns
# 65532: the "nonroot" user of distroless images and CoreDNS's image; numeric, so that a
# Pod's runAsNonRoot can verify it.
USER 65532:65532
# DNS, then the prometheus, health and ready plugins' default ports.
EXPOSE 53/udp 53/tcp 9153 8080 8181
ENTRYPOINT ["kdns"]
CMD ["-conf", "/etc/coredns/Corefile"]
