"""Extremes, hostile servers and damaged state: each ends in one clear line and a non-zero exit, never a hang,
a crash handler message or a broken cache.

Covers the openai engine's transport (answer size cap with flat memory, a deadline per request, malformed and
credential-carrying base URLs), user regexes and globs that backtrack catastrophically, extreme dates,
tampered or newer caches, ``-o`` onto the cache, a pipe or a device, stale temporary files, and an
unreadable ``.git``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from narrator.engines.openai import OpenAIEngine, display_url
from narrator.errors import EngineError

ROOT = Path(__file__).resolve().parents[1]


# -- hostile model servers ---------------------------------------------------------------------------------

class HostileServer:
    """A local server whose POST answer is produced by ``behaviour(handler)``."""

    def __init__(self, behaviour):
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                try:
                    behaviour(self)
                except (BrokenPipeError, ConnectionResetError, OSError):
                    pass

            do_GET = do_POST

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.server = server

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def hostile():
    servers = []

    def start(behaviour):
        servers.append(HostileServer(behaviour))
        return servers[-1]

    yield start
    for s in servers:
        s.close()


def _huge(with_length: bool):
    size = 256 << 20
    chunk = b'{"choices": [{"message": {"content": "' + b"a" * (1 << 20)

    def behaviour(handler):
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        if with_length:
            handler.send_header("Content-Length", str(size))
        handler.end_headers()
        sent = 0
        while sent < size:
            handler.wfile.write(chunk)
            sent += len(chunk)

    return behaviour


_RSS_PROBE = """
import json, resource, sys, time
from narrator.engines.openai import OpenAIEngine
from narrator.errors import EngineError
engine = OpenAIEngine({"base_url": sys.argv[1], "model": "tiny", "api_key_env": "", "timeout_s": 60, "retries": 0})
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.perf_counter()
try:
    engine._complete("hello")
    error = None
except EngineError as exc:
    error = str(exc)
print(json.dumps({"before_kib": before, "peak_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                  "seconds": time.perf_counter() - start, "error": error}))
"""


@pytest.mark.parametrize("with_length", [False, True], ids=["streamed", "content-length"])
def test_a_256_mib_answer_is_refused_with_flat_memory(hostile, with_length):
    server = hostile(_huge(with_length))
    proc = subprocess.run([sys.executable, "-c", _RSS_PROBE, server.url], capture_output=True, text=True,
                          timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT)})
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    print(f"256 MiB answer ({'with' if with_length else 'without'} Content-Length): peak RSS "
          f"{result['peak_kib'] / 1024:.1f} MiB, {(result['peak_kib'] - result['before_kib']) / 1024:.1f} MiB above "
          f"the engine at rest, {result['seconds']:.2f} s")
    assert result["error"] and "answered more than 1 MiB" in result["error"] and "\n" not in result["error"]
    assert result["peak_kib"] - result["before_kib"] < 16 * 1024


def _trickle(phase: str):
    def behaviour(handler):
        if phase == "headers":
            for byte in b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Slow: " + b"a" * 200:
                handler.wfile.write(bytes([byte]))
                handler.wfile.flush()
                time.sleep(0.5)
            return
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.end_headers()
        handler.wfile.flush()
        for byte in json.dumps({"choices": [{"message": {"content": "x" * 200}}]}).encode():
            handler.wfile.write(bytes([byte]))
            handler.wfile.flush()
            time.sleep(0.5)

    return behaviour


@pytest.mark.parametrize("phase", ["headers", "body"])
def test_the_timeout_bounds_the_whole_request_not_each_read(hostile, phase):
    server = hostile(_trickle(phase))
    engine = OpenAIEngine({"base_url": server.url, "model": "tiny", "api_key_env": "", "timeout_s": 2,
                           "retries": 0})
    started = time.monotonic()
    with pytest.raises(EngineError, match=r"no answer within 2 s after 1 tries"):
        engine._complete("hello")
    elapsed = time.monotonic() - started
    print(f"trickling {phase}: gave up after {elapsed:.2f} s (timeout_s = 2)")
    assert 1.9 <= elapsed < 3.0
    engine = OpenAIEngine({"base_url": server.url, "model": "tiny", "api_key_env": "", "timeout_s": 1,
                           "retries": 1, "backoff_s": 0})
    started = time.monotonic()
    with pytest.raises(EngineError, match=r"no answer within 1 s after 2 tries"):
        engine._complete("hello")
    assert time.monotonic() - started < 3.0  # each try has its own deadline


@pytest.mark.parametrize("url", ["http://[::1", "http://[::1/v1", "http://localhost:99999/v1", "localhost:11434",
                                 "ftp://host/v1", "http:///v1"])
def test_malformed_base_urls_are_one_clear_line(url):
    with pytest.raises(EngineError) as info:
        OpenAIEngine({"base_url": url, "model": "tiny"})
    message = str(info.value)
    assert "engines.openai.base_url" in message and "\n" not in message and len(message) < 300
    status = OpenAIEngine.status({"base_url": url, "model": "tiny"})  # `narrate engines` must not crash either
    assert "engines.openai.base_url" in status.detail


def test_a_password_in_base_url_is_never_printed(hostile, caplog):
    import logging

    caplog.set_level(logging.DEBUG)
    seen = {}

    def refuse(handler):
        seen["auth"] = handler.headers.get("Authorization")
        handler.send_response(503)
        handler.send_header("Content-Length", "2")
        handler.end_headers()
        handler.wfile.write(b"{}")

    server = hostile(refuse)
    secret = "Hunter2-pw"
    url = server.url.replace("http://", f"http://ada:{secret}@")
    engine = OpenAIEngine({"base_url": url, "model": "tiny", "api_key_env": "", "timeout_s": 2, "retries": 1,
                           "backoff_s": 0})
    with pytest.raises(EngineError) as info:
        engine._complete("hello")
    status = OpenAIEngine.status({"base_url": url, "model": "tiny", "api_key_env": ""})
    printed = "\n".join([str(info.value), status.detail, *(r.getMessage() for r in caplog.records)])
    assert secret not in printed and "ada:***@" in printed
    assert seen["auth"].startswith("Basic ")  # the credentials are used, as HTTP Basic auth
    # and also for URLs that do not parse, and for token-only user info
    assert secret not in display_url(f"http://ada:{secret}@[::1") and "ada:***@" in display_url(f"http://ada:{secret}@[::1")
    assert display_url("https://tok3n@example.com/v1") == "https://***@example.com/v1"
    with pytest.raises(EngineError) as bad:
        OpenAIEngine({"base_url": f"http://ada:{secret}@[::1", "model": "tiny"})
    assert secret not in str(bad.value)
