"""A small JSON-over-HTTP client for the online scorers: retries, backoff, no leaked keys.

Hand-written on top of ``requests`` (rather than the vendors' SDKs, which are
not dependencies) because the scorers need exactly three things: POST JSON,
retry on 429/5xx with exponential backoff that honours ``Retry-After``, and a
guarantee that the API key never reaches an error message, a log or a cache.
Keys travel in a request header only (never in the URL, which ``requests``
would quote in its own exceptions), and every message built here is passed
through :meth:`Secret.redact`.
"""

from __future__ import annotations

import email.utils
import time
from datetime import datetime, timezone
from typing import Any, Callable

from srllm.scoring.base import ScorerError

RETRY_STATUS = frozenset({429, 500, 502, 503, 504})


class Secret:
    """An API key that prints as ``<redacted>`` in repr, str and f-strings."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The key itself, for the request header only."""
        return self._value

    def redact(self, text: str) -> str:
        """``text`` with every occurrence of the key replaced by ``<redacted>`` (for error messages)."""
        return text.replace(self._value, "<redacted>") if self._value else text

    def __repr__(self) -> str:
        return "<redacted>"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return "<redacted>"

    def __reduce__(self):  # refuse to be pickled into a cache
        raise TypeError("a Secret cannot be pickled")


def retry_after_seconds(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())


def _error_message(resp: Any) -> str:
    """The service's own error text (both Google and OpenAI use ``{"error": {"message": ...}}``)."""
    try:
        body = resp.json()
        err = body.get("error", body) if isinstance(body, dict) else body
        if isinstance(err, dict):
            parts = [str(err[k]) for k in ("status", "type", "code") if err.get(k) not in (None, "")]
            msg = str(err.get("message", "")).strip()
            return " ".join(dict.fromkeys(parts)) + (": " + msg if msg else "")
        return str(err)[:300]
    except ValueError:
        return (resp.text or "").strip()[:300]


class JsonClient:
    """POST JSON to ``base_url + path`` with retries.

    ``max_retries`` extra attempts follow a 429, a 5xx or a network error;
    the wait before attempt *n* is ``Retry-After`` when the server sends one,
    else ``backoff_s * 2**n``, capped at ``max_wait_s``. Any other 4xx fails at
    once with the service's message. ``sleep`` is injectable for tests.
    """

    def __init__(self, service: str, base_url: str, headers: dict[str, str | Secret], *,
                 secret: Secret | None = None, max_retries: int = 5, backoff_s: float = 1.0,
                 max_wait_s: float = 120.0, timeout_s: float = 60.0,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.service = service
        self.base_url = base_url.rstrip("/")
        self._headers = headers
        self._secret = secret or Secret("")
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self.max_wait_s = max_wait_s
        self.timeout_s = timeout_s
        self.sleep = sleep
        self.waits: list[float] = []  # every wait taken, for reports and tests

    def __repr__(self) -> str:
        return f"JsonClient(service={self.service!r}, base_url={self.base_url!r})"

    def _fail(self, msg: str) -> ScorerError:
        return ScorerError(self._secret.redact(f"{self.service}: {msg}"))

    def post(self, path: str, payload: dict[str, Any]) -> Any:
        """POST ``payload`` as JSON to ``base_url + path`` and return the decoded JSON reply.

        Retries as the class describes; every failure is a :class:`ScorerError` with the key redacted.
        """
        import requests

        url = self.base_url + path
        headers = {"Content-Type": "application/json",
                   **{k: (v.reveal() if isinstance(v, Secret) else v) for k, v in self._headers.items()}}
        last = ""
        for attempt in range(self.max_retries + 1):
            wait = None
            try:
                resp = requests.post(url, json=payload, headers=headers, timeout=self.timeout_s)
            except requests.RequestException as exc:
                # requests' own message may quote headers or URLs; keep only the kind of failure
                last = f"network error ({type(exc).__name__})"
            else:
                if resp.status_code < 300:
                    try:
                        return resp.json()
                    except ValueError:
                        raise self._fail(f"reply from {url} is not JSON: {(resp.text or '')[:200]!r}") from None
                last = f"HTTP {resp.status_code} {_error_message(resp)}".strip()
                if resp.status_code not in RETRY_STATUS:
                    raise self._fail(f"request to {url} failed with {last}") from None
                wait = retry_after_seconds(resp.headers.get("Retry-After"))
            if attempt == self.max_retries:
                break
            if wait is None:
                wait = self.backoff_s * (2 ** attempt)
            wait = min(wait, self.max_wait_s)
            self.waits.append(wait)
            self.sleep(wait)
        raise self._fail(f"gave up on {url} after {self.max_retries + 1} attempts; last answer: {last}") from None
