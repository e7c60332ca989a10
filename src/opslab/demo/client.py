"""Talk to the lab server over HTTP and turn every failure into one sentence a user can act on."""

from __future__ import annotations

import os

import requests

DEFAULT_SERVER_URL = "http://127.0.0.1:8000"
NOT_JSON = object()
PREDICTION_KEYS = {"prediction_id", "churned", "probability", "model_name", "model_version"}


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

    def _not_reachable(self) -> LabServerError:
        return LabServerError(
            f"The lab server at {self.url} is not reachable. Start it with `opslab serve` "
            "(or `make serve`) and try again."
        )

    def _not_the_lab_server(self, method: str, path: str, what: str) -> LabServerError:
        return LabServerError(
            f"The server at {self.url} answered {method} {path} with {what}, not the lab server's answer: "
            "is the lab server (`opslab serve`) the one at this URL?"
        )

    def _request(self, method: str, path: str, **kwargs) -> dict:
        try:
            response = requests.request(method, f"{self.url}{path}", timeout=self.timeout, **kwargs)
        except (requests.exceptions.MissingSchema, requests.exceptions.InvalidSchema, requests.exceptions.InvalidURL):
            raise LabServerError(
                f"The lab server at {self.url!r} is not reachable: that is not a server URL. "
                f"Write it like {DEFAULT_SERVER_URL} and try again."
            ) from None
        except requests.ConnectionError:
            raise self._not_reachable() from None
        except requests.Timeout:
            raise LabServerError(
                f"The lab server at {self.url} did not answer within {self.timeout:g} s."
            ) from None
        except requests.RequestException as err:  # e.g. too many redirects, a broken answer
            raise LabServerError(
                f"The lab server at {self.url} did not answer {method} {path} properly ({type(err).__name__})."
            ) from None
        try:
            body = response.json()
        except ValueError:
            body = NOT_JSON
        if response.status_code >= 400:
            if isinstance(body, dict) and "detail" in body:
                detail = describe_detail(body["detail"])
            else:
                detail = response.text.strip()[:300] or response.reason
            raise LabServerError(
                f"The lab server answered {response.status_code} to {method} {path}: {detail}"
            )
        if not isinstance(body, dict):
            what = "something that is not JSON" if body is NOT_JSON else f"JSON that is not an object: {body!r:.60}"
            raise self._not_the_lab_server(method, path, what)
        return body

    def health(self) -> dict:
        return self._request("GET", "/health")

    def model(self) -> dict:
        """Name, version, alias, metrics, features and feature importance of the served model."""
        card = self._request("GET", "/model")
        if not {"name", "version"} <= card.keys():
            raise self._not_the_lab_server("GET", "/model", "an object without the model's name and version")
        return card

    def predict(self, records: list[dict]) -> list[dict]:
        """One prediction per record, in order: prediction_id, churned, probability, model version."""
        predictions = self._request("POST", "/predict", json=records).get("predictions")
        if not (
            isinstance(predictions, list)
            and len(predictions) == len(records)
            and all(isinstance(p, dict) and PREDICTION_KEYS <= p.keys() for p in predictions)
        ):
            keys = ", ".join(sorted(PREDICTION_KEYS))
            what = f"something other than {len(records)} prediction(s) ({keys})"
            raise self._not_the_lab_server("POST", "/predict", what)
        return predictions

    def feedback(self, prediction_id: str, churned: int) -> dict:
        """Tell the server what really happened to the customer behind ``prediction_id``."""
        return self._request(
            "POST", "/feedback", json={"prediction_id": prediction_id, "churned": int(churned)}
        )
