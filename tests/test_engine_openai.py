"""The openai engine against a local OpenAI-compatible server on 127.0.0.1 (no network)."""

from __future__ import annotations

import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from narrator.engines.base import NarrationRequest
from narrator.engines.openai import OpenAIEngine
from narrator.errors import EngineError
from narrator.git.classify import Classifier
from narrator.git.walker import GitDiffs, Repository, read_facts
from tests.conftest import run_narrate

GOOD = "Changed how the basket total is worked out, so customers see the right price."


class FakeServer:
    """A scripted chat-completions server: ``script`` maps the n-th request to (status, body, delay)."""

    def __init__(self, script):
        self.script = script
        self.requests: list[dict] = []
        self.headers: list[dict] = []
        self.active = 0
        self.max_active = 0
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output clean
                pass

            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length) or b"{}")
                with server.lock:
                    index = len(server.requests)
                    server.requests.append(body)
                    server.headers.append(dict(self.headers))
                    server.active += 1
                    server.max_active = max(server.max_active, server.active)
                counted = True
                try:
                    status, payload, delay, extra = server.script(index, body)
                    if delay:
                        time.sleep(delay)
                    data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                    # no longer active once the answer starts: the client may send its next request as soon as
                    # it has read it, before this thread's ``finally`` runs (a loaded machine counted 3 of 2)
                    with server.lock:
                        server.active -= 1
                        counted = False
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    for key, value in (extra or {}).items():
                        self.send_header(key, value)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass
                finally:
                    if counted:
                        with server.lock:
                            server.active -= 1

            def do_GET(self):
                data = json.dumps({"data": [{"id": "tiny"}]}).encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def answer(text: str) -> dict:
    return {"id": "x", "object": "chat.completion", "choices": [{"index": 0, "message": {"role": "assistant",
                                                                                       "content": text}}]}


@pytest.fixture
def serve():
    servers = []

    def start(script):
        server = FakeServer(script)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()


def engine_for(url: str, **extra) -> OpenAIEngine:
    settings = {"base_url": url, "model": "tiny", "api_key_env": "NARRATOR_TEST_KEY", "timeout_s": 5,
                "retries": 2, "backoff_s": 0.01, "concurrency": 2}
    settings.update(extra)
    return OpenAIEngine(settings)


def history(git_repo, count: int = 3):
    shas = [git_repo.commit(f"feat: part {i}", {f"app/part{i}.py": f"def total_{i}(items):\n    return {i}\n"})
            for i in range(count)]
    repo = Repository.open(git_repo.path)
    facts = {f.sha: f for f in read_facts(repo, shas)}
    classifier = Classifier()
    return [NarrationRequest(facts[s], classifier.classify(facts[s])) for s in shas], GitDiffs(repo)


def test_narrates_through_the_server_with_key_and_concurrency_limit(serve, git_repo, monkeypatch):
    monkeypatch.setenv("NARRATOR_TEST_KEY", "sk-test-123")
    server = serve(lambda i, body: (200, answer(GOOD), 0.2, None))
    requests, diffs = history(git_repo, 5)
    engine = engine_for(server.url)
    batches = []
    out = engine.narrate(requests, diffs=diffs, on_batch=batches.append)
    assert [n.sha for n in out] == [r.commit.sha for r in requests]
    assert all(n.source == "model" and n.text == GOOD for n in out)
    assert len(server.requests) == 5 and server.max_active <= 2
    assert server.headers[0]["Authorization"] == "Bearer sk-test-123"
    body = server.requests[0]
    assert body["model"] == "tiny" and body["temperature"] == 0 and body["messages"][0]["role"] == "system"
    assert sum(len(b) for b in batches) == 5


def test_server_errors_are_retried_with_backoff_then_succeed(serve, git_repo):
    server = serve(lambda i, body: (500, {"error": {"message": "boom"}}, 0, None) if i < 2 else (200, answer(GOOD), 0, None))
    requests, diffs = history(git_repo, 1)
    out = engine_for(server.url, concurrency=1).narrate(requests, diffs=diffs)
    assert out[0].source == "model" and len(server.requests) == 3


def test_rate_limit_429_then_success_honours_retry_after(serve, git_repo):
    server = serve(lambda i, body: (429, {"error": "slow down"}, 0, {"Retry-After": "0.2"}) if i == 0
                   else (200, answer(GOOD), 0, None))
    requests, diffs = history(git_repo, 1)
    started = time.monotonic()
    out = engine_for(server.url, concurrency=1).narrate(requests, diffs=diffs)
    assert out[0].text == GOOD and len(server.requests) == 2 and time.monotonic() - started >= 0.2


def test_persistent_500s_fall_back_with_a_clear_note(serve, git_repo):
    server = serve(lambda i, body: (503, {"error": {"message": "overloaded"}}, 0, None))
    requests, diffs = history(git_repo, 2)
    engine = engine_for(server.url, concurrency=1)
    narrations = engine.narrate(requests, diffs=diffs)  # the report goes on with the heuristic sentences
    assert [n.source for n in narrations] == ["heuristic", "heuristic"]
    assert "failed: HTTP 503: overloaded after 3 tries" in engine.note
    assert len(server.requests) == 3  # the retries of the first commit, then nothing more


def test_garbage_json_is_a_clear_error(serve, git_repo):
    server = serve(lambda i, body: (200, b"<html>not json</html>", 0, None))
    requests, diffs = history(git_repo, 1)
    with pytest.raises(EngineError, match="did not answer with OpenAI chat-completions JSON"):
        engine_for(server.url).narrate(requests, diffs=diffs)
    server2 = serve(lambda i, body: (200, {"choices": []}, 0, None))
    with pytest.raises(EngineError, match="chat-completions JSON"):
        engine_for(server2.url).narrate(requests, diffs=diffs)


def test_a_hanging_server_times_out(serve, git_repo):
    server = serve(lambda i, body: (200, answer(GOOD), 3.0, None))
    requests, diffs = history(git_repo, 1)
    started = time.monotonic()
    engine = engine_for(server.url, timeout_s=0.3, retries=1)
    narrations = engine.narrate(requests, diffs=diffs)  # a server that keeps failing: fall back, do not stop
    assert time.monotonic() - started < 2.5
    assert narrations[0].source == "heuristic"
    assert "no answer within 0.3 s after 2 tries" in narrations[0].fallback_reason
    assert "could not be reached" in engine.note


def test_unreachable_server_falls_back_and_says_so(git_repo):
    import socket

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    requests, diffs = history(git_repo, 2)
    engine = engine_for(f"http://127.0.0.1:{port}/v1", retries=1, concurrency=1)
    narrations = engine.narrate(requests, diffs=diffs)
    assert [n.source for n in narrations] == ["heuristic", "heuristic"]
    assert all(n.fallback_reason.startswith("model unavailable: ") for n in narrations)
    assert re.search(r"unreachable.*ollama serve", engine.note)
    assert engine.requests_sent == 2  # one try and one retry, then no more requests for the rest of the run


def test_unreachable_server_falls_back_to_heuristic_text_with_a_note_in_the_report(git_repo):
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    history(git_repo, 2)
    env = {"NARRATOR_ENGINES__OPENAI__BASE_URL": f"http://127.0.0.1:{port}/v1", "NARRATOR_ENGINES__OPENAI__MODEL": "m",
           "NARRATOR_ENGINES__OPENAI__RETRIES": "0", "NARRATOR_ENGINES__OPENAI__API_KEY_ENV": ""}
    result = run_narrate("report", "--repo", str(git_repo.path), "--engine", "openai", "--since", "2000-01-01",
                         "--format", "md", "--no-cache", env=env)
    assert result.returncode == 0, result.stderr
    assert "## Notes" in result.stdout and "The openai model could not be reached" in result.stdout
    assert "2 rule-based (the model could not be reached)" in result.stdout
    assert "the guard replaced" not in result.stdout  # the model wrote nothing, so the guard had nothing to do


def test_missing_api_key_is_a_clear_error_before_any_request(git_repo, monkeypatch):
    monkeypatch.delenv("NARRATOR_TEST_KEY", raising=False)
    requests, diffs = history(git_repo, 1)
    engine = engine_for("https://models.example.invalid/v1")
    with pytest.raises(EngineError, match=r"export NARRATOR_TEST_KEY="):
        engine.narrate(requests, diffs=diffs)
    assert engine.requests_sent == 0


def test_unauthorised_and_not_found_are_not_retried(serve, git_repo, monkeypatch):
    monkeypatch.setenv("NARRATOR_TEST_KEY", "wrong")
    server = serve(lambda i, body: (401, {"error": {"message": "bad key"}}, 0, None))
    requests, diffs = history(git_repo, 1)
    with pytest.raises(EngineError, match=r"rejected the API key \(HTTP 401: bad key\); check \$NARRATOR_TEST_KEY"):
        engine_for(server.url).narrate(requests, diffs=diffs)
    assert len(server.requests) == 1


def test_empty_and_invented_answers_fall_back(serve, git_repo):
    replies = ["", "Rewrote the payments_gateway module in billing.rs."]
    server = serve(lambda i, body: (200, answer(replies[i % 2]), 0, None))
    requests, diffs = history(git_repo, 2)
    out = engine_for(server.url, concurrency=1).narrate(requests, diffs=diffs)
    assert [n.source for n in out] == ["heuristic", "heuristic"]
    reasons = sorted(n.fallback_reason for n in out)
    assert reasons[0] == "empty output" and reasons[1].startswith("names not in the commit")


def test_secrets_are_redacted_before_sending(serve, git_repo):
    server = serve(lambda i, body: (200, answer(GOOD), 0, None))
    key = "sk-" + "live-" + "A" * 32
    sha = git_repo.commit("chore: client", {"app/client.py": f"API_KEY = '{key}'\nRETRIES = 3\n",
                                            ".env.production": "SECRET=abc123abc123\n"})
    repo = Repository.open(git_repo.path)
    [facts] = list(read_facts(repo, [sha]))
    engine_for(server.url).narrate([NarrationRequest(facts, Classifier().classify(facts))], diffs=GitDiffs(repo))
    sent = json.dumps(server.requests)
    assert key not in sent and "abc123abc123" not in sent and "RETRIES = 3" in sent


def test_fingerprint_and_status(serve):
    server = serve(lambda i, body: (200, answer(GOOD), 0, None))
    a = engine_for(server.url).fingerprint()
    assert a == engine_for(server.url, timeout_s=9).fingerprint()  # transport settings do not change output
    assert a != engine_for(server.url, model="other").fingerprint()
    status = OpenAIEngine.status({"base_url": server.url, "model": "tiny", "api_key_env": "NARRATOR_TEST_KEY"})
    assert status.installed and "server answers (200)" in status.detail


def test_bad_settings_are_clear():
    with pytest.raises(EngineError, match="not an http"):
        OpenAIEngine({"base_url": "localhost:11434"})
    engine = OpenAIEngine({"base_url": "http://127.0.0.1:9/v1", "model": ""})
    with pytest.raises(EngineError, match="engines.openai.model is not set"):
        engine._generate(["x"])
