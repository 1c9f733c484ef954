"""A small Kubernetes API server for tests and the demo: manifests in, the real protocol out.

Serves core/v1 Services, Pods and Namespaces and discovery.k8s.io/v1 EndpointSlices (derived
from Services and Pods as the EndpointSlice controller does) with list, watch, bookmarks,
410 Gone, pagination, selectors and the Table format kubectl asks for.

    async with ApiServer([Path("examples/cluster.yaml")]) as api:   # port 0: any free port
        write_kubeconfig(tmp / "config", api.url)
        api.patch("pods", "default", "web-0", {"status": {"conditions": [...]}})  # an event
        api.expire()         # every resume from an older resourceVersion now gets 410
                             # (`POST /debug/expire` does it from another process)
        api.cut_watches()    # drop every watch connection mid-stream
        api.list_calls       # Counter of collection GETs per resource
        api.slow(0.5)        # faults: every answer held back half a second,
        api.tear_watches()   # every watch broken halfway through its next event's line,
        api.refuse_watches() # every new watch answered 410 Gone (until refuse_watches(None)),
        api.burst(changes)   # many applies and deletes in one go

Call its methods from the event loop's thread.
"""

from kdns.plugins.kubernetes.apiserver.cli import add_arguments, main, run
from kdns.plugins.kubernetes.apiserver.errors import ApiError
from kdns.plugins.kubernetes.apiserver.kubeconfig import write_kubeconfig
from kdns.plugins.kubernetes.apiserver.manifests import ManifestError
from kdns.plugins.kubernetes.apiserver.server import ApiServer

__all__ = [
    "ApiError",
    "ApiServer",
    "ManifestError",
    "add_arguments",
    "main",
    "run",
    "write_kubeconfig",
]
