"""Compiles the per-query modules with mypyc when it can; kdns is pure Python otherwise.

The modules below run for every query that misses the hot table (reading the question, the
zone's route, the kubernetes plugin's direct reply, the cache's and prometheus's steps, the
hot table itself), and the UDP batch loop for every datagram. They are plain typed Python,
checked by `mypy --strict` like the rest; mypyc turns each into a C extension next to its
source, which the import system prefers.

KDNS_COMPILE: "auto" (the default) compiles a wheel or a regular install and leaves an
editable install (`pip install -e .`) interpreted, so that an edit to a .py file takes effect;
"1" compiles every build (an editable one too: rebuild after editing these modules); "0"
never compiles. Without mypy or a C compiler the build goes on, uncompiled.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.build_ext import build_ext

NATIVE = [
    "plugins/wire.py",
    "plugins/metrics.py",
    "plugins/cache/handler.py",
    "plugins/kubernetes/answers.py",
    "plugins/kubernetes/direct.py",
    "plugins/kubernetes/handler.py",
    "plugins/loadbalance/fast.py",
    "plugins/prometheus/handler.py",
    "runtime/admission.py",
    "runtime/batch.py",
    "runtime/dispatch.py",
    "runtime/hot.py",
]
# Not plugins/kubernetes/index.py nor plugins/cache/store.py: with them, kdns held 1.6 MB more
# at the 5,000-node shape (bench/k8s_scale.py, over its memory target) for ~0.3 us less per
# first query.
PACKAGES = ("grammar", "corefile", "plugins", "runtime")


def compiling() -> bool:
    """Whether this run of setup.py builds modules (not only metadata) and should compile."""
    mode = os.environ.get("KDNS_COMPILE", "auto")
    if mode == "0":
        return False
    if "editable_wheel" in sys.argv:
        return mode == "1"
    return any(command in sys.argv for command in ("bdist_wheel", "build", "build_ext"))


def native_modules() -> list[object]:
    if not compiling():
        return []
    try:
        from mypyc.build import mypycify
    except ImportError:
        print("kdns: mypy not found, building uncompiled", file=sys.stderr)
        return []
    # mypyc names a module by its path: a tree of links gives these folders the kdns.* names
    # that pyproject's package-dir maps them to
    here = Path(__file__).resolve().parent
    tree = here / "build" / "native-src"
    (tree / "kdns").mkdir(parents=True, exist_ok=True)
    for package in PACKAGES:
        link = tree / "kdns" / package
        if not link.is_symlink():
            link.symlink_to(here / package)
    os.environ["MYPYPATH"] = str(tree)
    # A build environment holds setuptools and mypy, not kdns's dependencies: what comes from
    # them is typed Any here (.ci/typecheck checks the real types, strictly)
    options = ["--config-file=", "--python-version=3.11", "--ignore-missing-imports"]
    paths = [str(tree / "kdns" / path) for path in NATIVE]
    try:
        extensions = mypycify(
            [*options, "--explicit-package-bases", *paths],
            only_compile_paths=paths,
            group_name="kdns.runtime.native",
            target_dir=str(here / "build" / "native-c"),
        )
    except SystemExit as exc:  # mypy's errors are printed above
        if os.environ.get("KDNS_COMPILE") == "1":
            raise
        print(f"kdns: building uncompiled (mypyc: {exc})", file=sys.stderr)
        return []
    return list(extensions)


class BuildExt(build_ext):
    """Builds the compiled modules all or none: without a C compiler (or Python's headers)
    the install goes on with the .py modules, and says so."""

    def build_extensions(self) -> None:
        try:
            super().build_extensions()
        except Exception as exc:
            for extension in self.extensions:
                Path(self.get_ext_fullpath(extension.name)).unlink(missing_ok=True)
            print(f"kdns: building uncompiled ({exc})", file=sys.stderr)


setup(ext_modules=native_modules(), cmdclass={"build_ext": BuildExt})
