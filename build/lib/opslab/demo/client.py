"""Talk to the lab server over HTTP and turn every failure into one sentence a user can act on."""

from __future__ import annotations

import os

import requests

DEFAULT_SERVER_URL = "http://127.0.0.1:8000"


class LabServerError(RuntimeError):
    """The lab server is down or refused a request; ``str(err)`` is ready to show a user."""


def server_url(url: str | None = None) -> str:
    """The lab server's base URL: ``url``, else ``$OPSLAB_SERVER_URL``, else the course default."""
    return (url or os.environ.get("OPSLAB_SERVER_URL") or DEFAULT_SERVER_URL).rstrip("/")


def describe_detail(detail: object) -> str:
    """FastAPI's ``{"detail": ...}`` as one line: ``body.0.age: Input should be a valid number``."""
    if isinstance(detail, list):
        parts = []
        for item in detail:
            if isinstance(item, dict):
                where = ".".join(str(p) for p in item.get("loc", []))
                parts.append(f"{where}: {item.get('msg', item)}" if where else str(item.get("msg", item)))
            else:
                parts.append(str(item))
        return "; ".join(parts)
    return str(detail)


class LabServerClient:
    """A small client for the lab server's contract: predict, feedback, model, health."""

    def __init__(self, url: str | None = None, timeout: float = 10.0):
        self.url = server_url(url)
        self.timeout = timeout

    def _request(self, method: str, path: str, **kwargs) -> dict:
        try:
            response = requests.request(method, f"{self.url}{path}", timeout=self.timeout, **kwargs)
        except requests.ConnectionError:
            raise LabServerError(
                f"The lab server at {self.url} is not reachable. Start it with `opslab serve` "
                "(or `make serve`) and try again."
            ) from None
        except requests.Timeout:
            raise LabServerError(
                f"The lab server at {self.url} did not answer within {self.timeout:g} s."
            ) from None
        if response.status_code >= 400:
            try:
                detail = describe_detail(response.json().get("detail", response.text))
            except ValueError:
                detail = response.text.strip()[:300] or response.reason
            raise LabServerError(
                f"The lab server answered {response.status_code} to {method} {path}: {detail}"
            )
        try:
            return response.json()
        except ValueError:
            raise LabServerError(f"The lab server's answer to {method} {path} is not JSON.") from None

    def health(self) -> dict:
        return self._request("GET", "/health")

    def model(self) -> dict:
        """Name, version, alias, metrics, features and feature importance of the served model."""
        return self._request("GET", "/model")

    def predict(self, records: list[dict]) -> list[dict]:
        """One prediction per record, in order: prediction_id, churned, probability, model version."""
        return self._request("POST", "/predict", json=records)["predictions"]

    def feedback(self, prediction_id: str, churned: int) -> dict:
        """Tell the server what really happened to the customer behind ``prediction_id``."""
        return self._request(
            "POST", "/feedback", json={"prediction_id": prediction_id, "churned": int(churned)}
        )
