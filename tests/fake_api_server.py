"""A local stand-in for the Perspective and OpenAI moderation APIs, for tests.

Listens on 127.0.0.1 at an ephemeral port in a background thread and answers
in each API's documented response shape:

* Perspective ``POST /v1alpha1/comments:analyze`` ->
  ``{"attributeScores": {"TOXICITY": {"spanScores": [...], "summaryScore": {"value": v, "type": "PROBABILITY"}}},
  "languages": ["en"], "detectedLanguages": ["en"]}``; errors as Google's
  ``{"error": {"code", "message", "status"}}``.
* OpenAI ``POST /v1/moderations`` with ``input`` a string or a list ->
  ``{"id", "model", "results": [{"flagged", "categories", "category_scores",
  "category_applied_input_types"}]}``; errors as ``{"error": {"message", "type", "param", "code"}}``.

Scores follow a fixed word rule (``toxic_words``) so tests can predict them.
``queue_failure(path, status, body=None, headers=None)`` makes the next request
to ``path`` fail once; ``requests`` records every request (path, headers, body).
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

PERSPECTIVE_PATH = "/v1alpha1/comments:analyze"
OPENAI_PATH = "/v1/moderations"
OPENAI_CATEGORIES = ("harassment", "harassment/threatening", "hate", "hate/threatening", "illicit",
                     "illicit/violent", "self-harm", "self-harm/instructions", "self-harm/intent", "sexual",
                     "sexual/minors", "violence", "violence/graphic")


def toxicity(text: str, toxic_words: frozenset[str]) -> float:
    """The fake model: 0.9 when a toxic word occurs, else 0.05 (plus a tiny length term)."""
    words = {w.strip(".,!?").lower() for w in text.split()}
    return 0.9 if words & toxic_words else round(0.05 + min(len(text), 100) / 10000, 6)


class FakeAPIServer:
    def __init__(self, api_key: str, toxic_words: tuple[str, ...] = ("idiot", "stupid", "hate")) -> None:
        self.api_key = api_key
        self.toxic_words = frozenset(toxic_words)
        self.requests: list[dict[str, Any]] = []
        self._failures: dict[str, list[tuple[int, Any, dict[str, str]]]] = {}
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

            def do_POST(self) -> None:  # noqa: N802 (http.server API)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw or b"{}")
                except json.JSONDecodeError:
                    body = None
                status, payload, headers = server.handle(self.path, dict(self.headers), body)
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> "FakeAPIServer":
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def queue_failure(self, path: str, status: int, body: Any = None, headers: dict[str, str] | None = None) -> None:
        with self._lock:
            self._failures.setdefault(path, []).append((status, body, headers or {}))

    def count(self, path: str) -> int:
        return sum(1 for r in self.requests if r["path"] == path)

    # --- the fake APIs ----------------------------------------------------
    def handle(self, path: str, headers: dict[str, str], body: Any) -> tuple[int, Any, dict[str, str]]:
        with self._lock:
            self.requests.append({"path": path, "headers": headers, "body": body})
            queued = self._failures.get(path)
            failure = queued.pop(0) if queued else None
        if failure:
            status, payload, extra = failure
            return status, payload if payload is not None else {"error": {"code": status, "message": "injected"}}, extra
        if path == PERSPECTIVE_PATH:
            return self._perspective(headers, body)
        if path == OPENAI_PATH:
            return self._openai(headers, body)
        return 404, {"error": {"code": 404, "message": f"no route {path}", "status": "NOT_FOUND"}}, {}

    def _perspective(self, headers: dict[str, str], body: Any) -> tuple[int, Any, dict[str, str]]:
        key = {k.lower(): v for k, v in headers.items()}.get("x-goog-api-key")
        if key != self.api_key:
            return 400, {"error": {"code": 400, "message": "API key not valid. Please pass a valid API key.",
                                   "status": "INVALID_ARGUMENT"}}, {}
        try:
            text = body["comment"]["text"]
            attrs = list(body["requestedAttributes"])
        except (KeyError, TypeError):
            return 400, {"error": {"code": 400, "message": "Comment must be specified.",
                                   "status": "INVALID_ARGUMENT"}}, {}
        if not text:
            return 400, {"error": {"code": 400, "message": "Comment must be non-empty.",
                                   "status": "INVALID_ARGUMENT"}}, {}
        v = toxicity(text, self.toxic_words)
        scores = {a: {"spanScores": [{"begin": 0, "end": len(text), "score": {"value": v, "type": "PROBABILITY"}}],
                      "summaryScore": {"value": v, "type": "PROBABILITY"}} for a in attrs}
        return 200, {"attributeScores": scores, "languages": ["en"], "detectedLanguages": ["en"]}, {}

    def _openai(self, headers: dict[str, str], body: Any) -> tuple[int, Any, dict[str, str]]:
        auth = {k.lower(): v for k, v in headers.items()}.get("authorization", "")
        if auth != f"Bearer {self.api_key}":
            shown = auth.removeprefix("Bearer ")  # the real API also quotes (part of) a wrong key
            return 401, {"error": {"message": f"Incorrect API key provided: {shown}.", "type": "invalid_request_error",
                                   "param": None, "code": "invalid_api_key"}}, {}
        inputs = body.get("input") if isinstance(body, dict) else None
        if isinstance(inputs, str):
            inputs = [inputs]
        if not isinstance(inputs, list) or not inputs:
            return 400, {"error": {"message": "'input' is a required property", "type": "invalid_request_error",
                                   "param": "input", "code": None}}, {}
        results = []
        for text in inputs:
            v = toxicity(text, self.toxic_words)
            scores = {c: round(v * (0.5 if c != "harassment" else 1.0), 6) for c in OPENAI_CATEGORIES}
            cats = {c: s > 0.7 for c, s in scores.items()}  # the API's own per-category cut-offs differ from 0.5
            results.append({"flagged": any(cats.values()), "categories": cats, "category_scores": scores,
                            "category_applied_input_types": {c: ["text"] for c in OPENAI_CATEGORIES}})
        return 200, {"id": f"modr-{len(self.requests)}", "model": body.get("model", "omni-moderation-latest"),
                     "results": results}, {}
