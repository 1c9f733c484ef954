"""The OpenAPI v3 documents kubectl reads before it writes: paths and operations, no schemas.

kubectl (1.27+) validates a manifest on the client only when the server cannot: it looks the
resource's PATCH operation up in `/openapi/v3/<group-version>` and, when that operation takes
the `fieldValidation` query parameter, sends `fieldValidation=Strict` and leaves the checking to
the server. So these documents list every served path with its operations and parameters, and
no schemas: kubectl never needs the v2 (protobuf) document, and it computes the strategic
merge patch of `kubectl apply` from its compiled-in types (which know each list's merge key)
because the PATCH operations do not offer `strategic-merge-patch+json` here (a schema-less
document would make kubectl replace lists instead of merging them).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from kdns.plugins.kubernetes.apiserver.resources import RESOURCES, Resource

Obj = dict[str, Any]

_VERBS = {"get": "read", "put": "replace", "patch": "patch", "delete": "delete"}
_WRITE_PARAMS = ("fieldManager", "fieldValidation")


def _param(name: str, where: str = "query") -> Obj:
    return {
        "name": name,
        "in": where,
        "required": where == "path",
        "schema": {"type": "string", "uniqueItems": True},
    }


def _operation(
    resource: Resource, action: str, params: tuple[str, ...], body: tuple[str, ...]
) -> Obj:
    gvk = {"group": resource.group, "version": resource.version, "kind": resource.kind}
    op: Obj = {
        "operationId": f"{action}{resource.kind}",
        "parameters": [_param(p) for p in params],
        "responses": {"200": {"description": "OK"}},
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": gvk,
    }
    if body:
        op["requestBody"] = {"content": {t: {"schema": {"type": "object"}} for t in body}}
    return op


def _paths(resource: Resource) -> Obj:
    prefix = f"/apis/{resource.group_version}" if resource.group else "/api/v1"
    if resource.namespaced:
        prefix += "/namespaces/{namespace}"
    collection = f"{prefix}/{resource.plural}"
    scope = [_param("namespace", "path")] if resource.namespaced else []
    json_body = ("application/json",)
    patch_body = ("application/merge-patch+json", "application/apply-patch+yaml")
    item: Obj = {"parameters": [_param("name", "path"), *scope]}
    item["get"] = _operation(resource, "get", (), ())
    item["put"] = _operation(resource, "put", _WRITE_PARAMS, json_body)
    item["patch"] = _operation(resource, "patch", (*_WRITE_PARAMS, "force"), patch_body)
    item["delete"] = _operation(resource, "delete", (), ())
    listing: Obj = {
        "parameters": scope,
        "get": _operation(resource, "list", ("labelSelector", "fieldSelector", "limit"), ()),
        "post": _operation(resource, "post", _WRITE_PARAMS, json_body),
    }
    return {collection: listing, f"{collection}/{{name}}": item}


def document(group_version: str) -> Obj | None:
    """The OpenAPI v3 document of one group/version (`v1`, `apps/v1`), or None."""
    served = [r for r in RESOURCES.values() if r.group_version == group_version]
    if not served:
        return None
    paths: Obj = {}
    for resource in served:
        paths.update(_paths(resource))
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "v1.32.0-kdns"},
        "paths": paths,
        "components": {"schemas": {}},
    }


def _relative(group_version: str) -> str:
    return "api/v1" if group_version == "v1" else f"apis/{group_version}"


def index() -> Obj:
    """The `/openapi/v3` discovery document: each group/version and where its document is."""
    paths: Obj = {}
    for gv in sorted({r.group_version for r in RESOURCES.values()}):
        text = json.dumps(document(gv), sort_keys=True).encode()
        digest = hashlib.sha512(text).hexdigest().upper()[:128]
        paths[_relative(gv)] = {"serverRelativeURL": f"/openapi/v3/{_relative(gv)}?hash={digest}"}
    return {"paths": paths}


def lookup(path: str) -> Obj | None:
    """The document for a `/openapi/v3...` path, or None."""
    if path == "/openapi/v3":
        return index()
    rest = path.removeprefix("/openapi/v3/")
    if rest == "api/v1":
        return document("v1")
    if rest.startswith("apis/") and rest.count("/") == 2:
        return document(rest[5:])
    return None
