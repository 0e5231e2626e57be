"""The few REST calls testenv makes to its own API server as cluster admin.

testenv must work before, and independently of, kubeops' own client (it is
what that client is tested against), so it speaks plain HTTPS with the admin
client certificate through httpx.
"""

from __future__ import annotations

import ssl
from typing import Any

import httpx
import orjson

from kubeops.testenv.errors import ControlPlaneError
from kubeops.testenv.pki import ClusterPKI


def admin_ssl_context(pki: ClusterPKI) -> ssl.SSLContext:
    """TLS settings that trust the cluster's CA and present the admin certificate."""
    context = ssl.create_default_context(cafile=str(pki.ca.cert_file))
    context.load_cert_chain(str(pki.admin.cert_file), str(pki.admin.key_file))
    return context


class AdminClient:
    """A synchronous admin connection to one testenv API server."""

    def __init__(self, server: str, pki: ClusterPKI, timeout: float = 30.0) -> None:
        self.server = server
        self._http = httpx.Client(base_url=server, verify=admin_ssl_context(pki), timeout=timeout)

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self._http.close()

    def ready(self) -> bool:
        """True when ``/readyz`` answers ok; any connection error counts as not ready."""
        try:
            return self._http.get("/readyz", timeout=2.0).status_code == 200
        except httpx.HTTPError:
            return False

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        ok: tuple[int, ...] = (),
        content_type: str = "application/json",
    ) -> Any:
        """Send one request as cluster admin; a status outside 2xx and ``ok`` raises."""
        content = orjson.dumps(body) if body is not None else None
        headers = {"Content-Type": content_type} if content else {}
        response = self._http.request(method, path, content=content, headers=headers)
        if response.status_code >= 400 and response.status_code not in ok:
            try:
                message = orjson.loads(response.content).get("message", response.text)
            except orjson.JSONDecodeError:
                message = response.text
            raise ControlPlaneError(
                f"{method} {path} on {self.server} failed: {response.status_code} {message}"
            )
        return orjson.loads(response.content) if response.content else None

    def get(self, path: str) -> Any:
        """GET ``path`` and return the decoded body."""
        return self.request("GET", path)

    def exists(self, path: str) -> bool:
        """Whether ``path`` names an existing object."""
        found: bool = self.request("GET", path, ok=(404,)).get("kind") != "Status"
        return found

    def create(self, path: str, body: dict[str, Any], exist_ok: bool = False) -> Any:
        """POST ``body`` to ``path``; with ``exist_ok`` an existing object is no error."""
        return self.request("POST", path, body, ok=(409,) if exist_ok else ())

    def patch(self, path: str, body: dict[str, Any]) -> Any:
        """Apply ``body`` to the object at ``path`` as a JSON merge patch."""
        return self.request("PATCH", path, body, content_type="application/merge-patch+json")

    def delete(self, path: str) -> Any:
        """DELETE ``path``; an object already gone is no error."""
        return self.request("DELETE", path, ok=(404,))
