"""Online scorers (Perspective, OpenAI moderation) against a local fake server on loopback."""

from __future__ import annotations

import json
import os

import pytest

from fake_api_server import OPENAI_PATH, PERSPECTIVE_PATH, FakeAPIServer
from srllm.scoring import ScorerError, ScorerUnavailableError, available_scorers, get_scorer
from srllm.scoring.http import Secret, retry_after_seconds

KEY = "sk-test-SECRET-7f3a9c1e5b"


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SRLLM_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("PERSPECTIVE_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)


@pytest.fixture()
def server():
    with FakeAPIServer(KEY) as srv:
        yield srv


class Sleeps(list):
    """Records the waits instead of sleeping."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def perspective(server, sleeps=None, **kw):
    return get_scorer("perspective", api_key=KEY, base_url=server.url, qps=None, backoff_s=0.5,
                      sleep=sleeps if sleeps is not None else Sleeps(), progress=False, **kw)


def openai(server, sleeps=None, **kw):
    return get_scorer("openai-moderation", api_key=KEY, base_url=server.url + "/v1", backoff_s=0.5,
                      sleep=sleeps if sleeps is not None else Sleeps(), progress=False, **kw)


def all_cache_bytes(scorer) -> bytes:
    return b"".join(p.read_bytes() for p in scorer.cache_path.rglob("*") if p.is_file())


# --- Perspective -----------------------------------------------------------------------------

def test_perspective_scores_parse_documented_shape_and_send_key_in_header_only(server):
    s = perspective(server)
    res = s.score(["what an idiot", "a calm remark", "I hate this"])
    assert [r.flag for r in res] == [True, False, True]
    assert res[0].p_unsafe == pytest.approx(0.9)
    assert res[1].p_unsafe == pytest.approx(0.05 + len("a calm remark") / 10000)
    assert server.count(PERSPECTIVE_PATH) == 3  # one comment per request, as the API requires
    req = server.requests[0]
    assert req["body"]["comment"]["text"] == "what an idiot"
    assert "TOXICITY" in req["body"]["requestedAttributes"] and req["body"]["doNotStore"] is True
    assert {k.lower(): v for k, v in req["headers"].items()}["x-goog-api-key"] == KEY
    assert KEY not in req["path"]


def test_perspective_retries_429_honouring_retry_after(server):
    sleeps = Sleeps()
    server.queue_failure(PERSPECTIVE_PATH, 429, {"error": {"code": 429, "message": "Quota exceeded",
                                                           "status": "RESOURCE_EXHAUSTED"}}, {"Retry-After": "3"})
    res = perspective(server, sleeps).score(["you idiot"])
    assert res[0].p_unsafe == pytest.approx(0.9)
    assert sleeps == [3.0]
    assert server.count(PERSPECTIVE_PATH) == 2


def test_perspective_retries_500_with_exponential_backoff(server):
    sleeps = Sleeps()
    server.queue_failure(PERSPECTIVE_PATH, 500)
    server.queue_failure(PERSPECTIVE_PATH, 503)
    res = perspective(server, sleeps).score(["fine words"])
    assert res[0].flag is False
    assert sleeps == [0.5, 1.0]  # backoff_s * 2**attempt when there is no Retry-After


def test_perspective_gives_up_after_bounded_retries(server):
    sleeps = Sleeps()
    for _ in range(10):
        server.queue_failure(PERSPECTIVE_PATH, 503)
    with pytest.raises(ScorerError, match=r"gave up .* after 3 attempts; last answer: HTTP 503"):
        perspective(server, sleeps, max_retries=2).score(["x y"])
    assert server.count(PERSPECTIVE_PATH) == 3 and len(sleeps) == 2


def test_perspective_4xx_fails_at_once_with_the_service_message(server):
    server.queue_failure(PERSPECTIVE_PATH, 400, {"error": {"code": 400, "status": "INVALID_ARGUMENT",
                                                           "message": "Attribute TOXICITY does not support request "
                                                                      "languages: xx"}})
    with pytest.raises(ScorerError) as err:
        perspective(server).score(["hello"])
    msg = str(err.value)
    assert "HTTP 400" in msg and "does not support request languages" in msg and "perspective" in msg
    assert server.count(PERSPECTIVE_PATH) == 1


def test_perspective_wrong_key_is_reported_without_the_key(server):
    wrong = "AIza-WRONG-0123456789"
    s = get_scorer("perspective", api_key=wrong, base_url=server.url, qps=None, progress=False)
    with pytest.raises(ScorerError, match="API key not valid") as err:
        s.score(["hello"])
    assert wrong not in str(err.value) and wrong not in repr(err.value)


def test_perspective_reply_without_the_score_names_the_missing_field(server):
    server.queue_failure(PERSPECTIVE_PATH, 200, {"attributeScores": {}})
    with pytest.raises(ScorerError, match="attributeScores.TOXICITY"):
        perspective(server).score(["hello"])


def test_perspective_paces_requests_to_the_quota(server):
    sleeps = Sleeps()
    s = get_scorer("perspective", api_key=KEY, base_url=server.url, qps=1.0, sleep=sleeps, progress=False)
    s.score(["one", "two", "three"])
    assert len(sleeps) == 2 and all(0 < w <= 1.0 for w in sleeps)


# --- OpenAI moderation ----------------------------------------------------------------------

def test_openai_batches_inputs_and_uses_max_category_score(server):
    s = openai(server, batch_size=2)
    texts = ["you stupid fool", "good morning", "so stupid", "nice", "hello there"]
    res = s.score(texts)
    assert server.count(OPENAI_PATH) == 3  # 5 texts in batches of 2
    assert [len(r["body"]["input"]) for r in server.requests] == [2, 2, 1]
    assert server.requests[0]["body"]["model"] == "omni-moderation-latest"
    assert res[0].p_unsafe == pytest.approx(0.9) and res[0].details["top_category"] == "harassment"
    assert [r.flag for r in res] == [True, False, True, False, False]
    assert res[0].details["api_flagged"] is True
    assert {k.lower(): v for k, v in server.requests[0]["headers"].items()}["authorization"] == f"Bearer {KEY}"


def test_openai_threshold_is_ours_not_the_api_flag(server):
    # 0.9 * 0.5 = 0.45 on every non-harassment category; the API's own 'flagged' uses its cut-offs
    res = openai(server, threshold=0.95).score(["stupid"])
    assert res[0].flag is False and res[0].details["api_flagged"] is True


def test_openai_429_then_success(server):
    sleeps = Sleeps()
    server.queue_failure(OPENAI_PATH, 429, {"error": {"message": "Rate limit reached", "type": "requests",
                                                      "param": None, "code": "rate_limit_exceeded"}},
                         {"Retry-After": "1.5"})
    res = openai(server, sleeps).score(["hate it", "ok"])
    assert [r.flag for r in res] == [True, False] and sleeps == [1.5]


def test_openai_wrong_key_echoed_by_server_is_redacted(server):
    wrong = "sk-wrong-KEY-99887766"
    s = get_scorer("openai-moderation", api_key=wrong, base_url=server.url + "/v1", progress=False)
    with pytest.raises(ScorerError, match="HTTP 401 invalid_request_error invalid_api_key") as err:
        s.score(["hello"])
    assert wrong not in str(err.value) and "<redacted>" in str(err.value)
    assert err.value.__cause__ is None and err.value.__suppress_context__


def test_openai_result_count_mismatch_is_an_error(server):
    server.queue_failure(OPENAI_PATH, 200, {"id": "x", "model": "m", "results": []})
    with pytest.raises(ScorerError, match="sent 1 inputs, got 0 results"):
        openai(server).score(["hello"])


# --- caching and secrets --------------------------------------------------------------------

def test_rerun_is_served_from_cache_without_calls(server):
    texts = ["you idiot", "calm", "calm", ""]
    first = openai(server).score(texts)
    assert server.count(OPENAI_PATH) == 1 and len(server.requests[0]["body"]["input"]) == 2  # deduplicated, empty skipped
    again = openai(server)  # a new scorer object, same config: reads the persisted cache
    second = again.score(texts)
    assert server.count(OPENAI_PATH) == 1
    assert [r.p_unsafe for r in second] == [r.p_unsafe for r in first]
    assert again.stats == {"computed": 0, "cached": 2} and second[0].cached and not first[0].cached
    assert first[3].p_unsafe == 0.0


def test_threshold_change_does_not_call_again(server):
    openai(server).score(["stupid"])
    res = openai(server, threshold=0.95).score(["stupid"])
    assert server.count(OPENAI_PATH) == 1 and res[0].flag is False


def test_different_base_url_means_a_different_cache(server):
    a = openai(server)
    b = get_scorer("openai-moderation", api_key=KEY, base_url=server.url + "/v1/", progress=False)
    c = get_scorer("openai-moderation", api_key=KEY, base_url="http://127.0.0.1:9/v1", progress=False)
    assert a.cache_path == b.cache_path != c.cache_path


def test_key_never_in_cache_repr_metadata_or_errors(server):
    for make in (perspective, openai):
        s = make(server)
        s.score(["you idiot", "hello friend"])
        assert KEY.encode() not in all_cache_bytes(s)
        assert KEY not in repr(s) and KEY not in str(vars(s))
        assert KEY not in json.dumps(s.metadata, default=str)
    assert repr(Secret(KEY)) == "<redacted>" and f"{Secret(KEY)}" == "<redacted>"
    with pytest.raises(TypeError):
        import pickle

        pickle.dumps(Secret(KEY))


def test_network_error_is_retried_then_reported_without_key():
    sleeps = Sleeps()
    s = get_scorer("openai-moderation", api_key=KEY, base_url="http://127.0.0.1:9/v1", backoff_s=0.01,
                   max_retries=2, sleep=sleeps, progress=False)
    s._client.timeout_s = 2
    with pytest.raises(ScorerError, match="network error") as err:
        s.score(["hello"])
    assert KEY not in str(err.value) and len(sleeps) == 2


def test_missing_key_is_unavailable_and_named(monkeypatch):
    with pytest.raises(ScorerUnavailableError, match="PERSPECTIVE_API_KEY"):
        get_scorer("perspective")
    with pytest.raises(ScorerUnavailableError, match="OPENAI_API_KEY"):
        get_scorer("openai-moderation")
    rows = {r["name"]: r for r in available_scorers(hf_models=())}
    assert not rows["perspective"]["available"] and "PERSPECTIVE_API_KEY" in rows["perspective"]["reason"]
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    rows = {r["name"]: r for r in available_scorers(hf_models=())}
    assert rows["openai-moderation"]["available"] and KEY not in json.dumps(rows)
    assert rows["offline-proxy"]["available"] and rows["offline-proxy"]["is_proxy"]


def test_base_url_from_environment(server, monkeypatch):
    monkeypatch.setenv("OPENAI_BASE_URL", server.url + "/v1")
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    assert get_scorer("openai-moderation", progress=False).score(["idiot"])[0].flag
    assert server.count(OPENAI_PATH) == 1
    assert os.environ["OPENAI_API_KEY"] == KEY


def test_retry_after_parses_seconds_and_http_dates():
    assert retry_after_seconds("7") == 7.0
    assert retry_after_seconds(None) is None and retry_after_seconds("soon") is None
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # a date in the past: no wait
