"""The ``openai`` engine: narration by any OpenAI-compatible ``/v1/chat/completions`` server.

Works with Ollama, vLLM, llama.cpp's server or a hosted API. Standard library only (urllib): a time limit
per request (``timeout_s`` bounds a whole try, however slowly the server trickles its answer), answers read
with a size cap (``MAX_ANSWER_BYTES``), retries with exponential backoff on 429/5xx, timeouts and dropped
connections (honouring ``Retry-After``), a concurrency limit, and errors that say whether the server is
unreachable, rejecting the key, or answering garbage. A server that cannot be reached, or keeps failing after
the retries, does not stop a report: the rest of the run gets the heuristic sentences and one note
(``ModelUnavailableError``, see ``generation``). The API key is read from the environment variable
named by ``engines.openai.api_key_env`` and never logged; a password inside ``base_url`` is masked wherever
the URL is shown; everything sent is redacted first (see ``redact``).
"""

from __future__ import annotations

import base64
import http.client
import json
import logging
import os
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from narrator.config import DEFAULTS
from narrator.engines.base import EngineStatus
from narrator.engines.generation import GeneratingEngine, ModelUnavailableError
from narrator.errors import EngineError
from narrator.prompts import PromptBudget, chat_messages

log = logging.getLogger(__name__)

OPENAI_DEFAULTS: dict[str, Any] = {
    key[len("engines.openai."):]: value for key, value in DEFAULTS.items() if key.startswith("engines.openai.")
}
OPENAI_DEFAULTS.setdefault("backoff_s", 1.0)
OPENAI_DEFAULTS.setdefault("max_prompt_tokens", 3000)
_RETRY_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}
_LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1", "0.0.0.0"}
MAX_ANSWER_BYTES = 1 << 20  # a chat completion of a few sentences is a few KiB; more is a broken server
_CHUNK = 64 * 1024


class _AnswerTooLarge(Exception):
    pass


class _Deadline(Exception):
    pass


def _split_url(raw: str, key: str = "engines.openai.base_url") -> tuple[str, str, str | None]:
    """(URL without credentials, URL for display, Basic credentials or None); EngineError when malformed."""
    if any(c.isspace() or not c.isprintable() for c in raw):
        raise EngineError(f"{key} '{_mask_url_text(raw)}' is not a valid URL (it contains a space or a control "
                          "character); use e.g. http://localhost:11434/v1")
    try:
        parsed = urllib.parse.urlsplit(raw)
        host = parsed.hostname or ""
        port = parsed.port  # raises ValueError on a bad port
    except ValueError as exc:
        raise EngineError(f"{key} '{_mask_url_text(raw)}' is not a valid URL ({exc}); "
                          "use e.g. http://localhost:11434/v1") from None
    if parsed.scheme not in ("http", "https") or not host:
        raise EngineError(f"{key} '{_mask_url_text(raw)}' is not an http(s) URL; use e.g. http://localhost:11434/v1")
    netloc = f"[{host}]" if ":" in host else host
    if port is not None:
        netloc += f":{port}"
    clean = urllib.parse.urlunsplit((parsed.scheme, netloc, parsed.path, parsed.query, ""))
    credentials = None
    shown = clean
    if parsed.username is not None or parsed.password is not None:
        user = urllib.parse.unquote(parsed.username or "")
        password = urllib.parse.unquote(parsed.password or "")
        credentials = base64.b64encode(f"{user}:{password}".encode()).decode()
        label = f"{parsed.username}:***@" if parsed.password is not None else "***@"
        shown = urllib.parse.urlunsplit((parsed.scheme, label + netloc, parsed.path, parsed.query, ""))
    return clean, shown, credentials


def _mask_url_text(raw: str) -> str:
    """``raw`` with any ``user:password@`` (or ``token@``) part masked, even when the URL does not parse."""
    import re

    return re.sub(r"(//)([^/@\s]*)@", lambda m: m.group(1) + (m.group(2).split(":", 1)[0] + ":***@"
                                                            if ":" in m.group(2) else "***@"), raw)


def display_url(raw: str) -> str:
    """``raw`` safe to print: the password (or token) inside it masked."""
    try:
        return _split_url(raw)[1]
    except EngineError:
        return _mask_url_text(raw)


class _Watchdog:
    """Closes a request's socket at its deadline, so that no server can hold a try past ``timeout_s``
    (the socket timeout alone is per read: a server trickling a byte every half second never trips it)."""

    def __init__(self, seconds: float) -> None:
        self.fired = False
        self._sock: socket.socket | None = None
        self._lock = threading.Lock()
        self._timer = threading.Timer(max(0.0, seconds), self._fire)
        self._timer.daemon = True
        self._timer.start()

    def _fire(self) -> None:
        with self._lock:
            self.fired = True
            sock = self._sock
        if sock is not None:
            _shutdown(sock)

    def watch(self, sock: socket.socket | None) -> None:
        with self._lock:
            self._sock = sock
            fired = self.fired
        if fired and sock is not None:
            _shutdown(sock)

    def cancel(self) -> None:
        self._timer.cancel()


def _shutdown(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


def _opener(watchdog: _Watchdog) -> urllib.request.OpenerDirector:
    """A urllib opener (proxies from the environment, as usual) whose connections report their socket."""

    def watched(base: type[http.client.HTTPConnection]) -> type[http.client.HTTPConnection]:
        class Watched(base):  # type: ignore[misc, valid-type]
            def connect(self) -> None:
                super().connect()
                watchdog.watch(self.sock)

        return Watched

    plain, secure = watched(http.client.HTTPConnection), watched(http.client.HTTPSConnection)

    class Handler(urllib.request.HTTPHandler):
        def http_open(self, req):  # type: ignore[no-untyped-def]
            return self.do_open(plain, req)

    class SecureHandler(urllib.request.HTTPSHandler):
        def https_open(self, req):  # type: ignore[no-untyped-def]
            return self.do_open(secure, req, context=self._context)

    return urllib.request.build_opener(Handler, SecureHandler)


def _read_capped(resp: Any, limit: int) -> bytes:
    """The whole answer body, or ``_AnswerTooLarge`` as soon as it passes ``limit`` bytes."""
    length = resp.headers.get("Content-Length") if getattr(resp, "headers", None) else None
    if length and length.strip().isdigit() and int(length) > limit:
        raise _AnswerTooLarge(int(length))
    parts: list[bytes] = []
    total = 0
    while True:
        chunk = resp.read(_CHUNK)
        if not chunk:
            return b"".join(parts)
        total += len(chunk)
        if total > limit:
            raise _AnswerTooLarge(total)
        parts.append(chunk)


def request_once(request: urllib.request.Request, timeout_s: float, limit: int = MAX_ANSWER_BYTES) -> tuple[int, bytes]:
    """Send ``request``; (status, body) within ``timeout_s`` for the whole try, the body at most ``limit`` bytes.

    Raises ``urllib.error.HTTPError`` for HTTP errors (its body is not read here), ``TimeoutError`` when the
    deadline passes, ``_AnswerTooLarge`` for a larger answer, and the usual ``URLError``/``OSError``.
    """
    watchdog = _Watchdog(timeout_s)
    try:
        with _opener(watchdog).open(request, timeout=timeout_s) as resp:
            body = _read_capped(resp, limit)
            status = resp.status
        if watchdog.fired:
            raise TimeoutError("deadline")
        return status, body
    except (OSError, http.client.HTTPException) as exc:
        if watchdog.fired and not isinstance(exc, urllib.error.HTTPError):
            raise TimeoutError("deadline") from None
        if isinstance(exc, http.client.HTTPException):
            raise ConnectionError(f"bad answer: {type(exc).__name__}") from None
        raise
    finally:
        watchdog.cancel()


class OpenAIEngine(GeneratingEngine):
    """Narrations from an OpenAI-compatible chat-completions server."""

    name = "openai"

    def __init__(self, settings: dict[str, Any] | None = None) -> None:
        merged = {**OPENAI_DEFAULTS, **{k: v for k, v in (settings or {}).items() if v is not None}}
        self.settings = merged
        raw_url = str(merged.get("base_url") or "").strip().rstrip("/")
        self.model = str(merged.get("model") or "")
        self.api_key_env = str(merged.get("api_key_env") or "")
        self.timeout_s = float(merged.get("timeout_s") or 60.0)
        self.retries = max(0, int(merged.get("retries") if merged.get("retries") is not None else 3))
        self.concurrency = max(1, int(merged.get("concurrency") or 4))
        self.max_new_tokens = max(1, int(merged.get("max_new_tokens") or 80))
        self.max_prompt_tokens = max(256, int(merged.get("max_prompt_tokens") or 3000))
        self.backoff_s = max(0.0, float(merged.get("backoff_s") if merged.get("backoff_s") is not None else 1.0))
        self.batch_size = self.concurrency * 2
        self.requests_sent = 0
        if not raw_url:
            raise EngineError("engines.openai.base_url is empty; set it to the server's /v1 address, "
                              "e.g. http://localhost:11434/v1 for Ollama")
        # base_url is the address requests go to (no credentials); shown_url is the one printed (password masked)
        self.base_url, self.shown_url, self._basic = _split_url(raw_url)
        self._host = urllib.parse.urlsplit(self.base_url).hostname or ""
        self._key_checked = False

    # -- status and identity -----------------------------------------------------------------------
    @staticmethod
    def status(settings: dict[str, Any]) -> EngineStatus:
        merged = {**OPENAI_DEFAULTS, **(settings or {})}
        raw = str(merged.get("base_url") or "").strip().rstrip("/")
        model = merged.get("model") or "(engines.openai.model not set)"
        key_env = merged.get("api_key_env") or ""
        key = f"key from ${key_env} ({'set' if os.environ.get(key_env) else 'not set'})" if key_env else "no key"
        try:
            base, shown, basic = _split_url(raw)
        except EngineError as exc:
            return EngineStatus("openai", True, f"{display_url(raw)}, model {model}, {key}; {exc}")
        try:
            req = urllib.request.Request(base + "/models", headers={"User-Agent": "narrator"})
            if key_env and os.environ.get(key_env):
                req.add_header("Authorization", f"Bearer {os.environ[key_env]}")
            elif basic:
                req.add_header("Authorization", f"Basic {basic}")
            status, _body = request_once(req, 2.0, limit=64 * 1024)
            reach = f"server answers ({status})"
        except urllib.error.HTTPError as exc:
            reach = f"server answers (HTTP {exc.code})"
        except _AnswerTooLarge:
            reach = "server answers (a very large model list)"
        except Exception as exc:
            reach = f"server not reachable ({_safe_reason(exc, raw)})"
        return EngineStatus("openai", True, f"{shown}, model {model}, {key}; {reach}")

    def _identity(self) -> dict[str, Any]:
        return {"base_url": self.base_url, "model": self.model, "max_new_tokens": self.max_new_tokens,
                "max_prompt_tokens": self.max_prompt_tokens, "temperature": 0}

    def _label(self) -> str:
        return self.model or "unset"

    @property
    def model_label(self) -> str:
        """The model a report names: its name on the server and the server (password masked)."""
        return f"{self.model or 'unset'} at {self.shown_url}"

    def _budget(self) -> PromptBudget:
        room = self.max_prompt_tokens - 80
        return PromptBudget(max_prompt_tokens=room, max_file_tokens=min(1500, int(room * 0.7)),
                            count_tokens=self._count_tokens)

    def _count_tokens(self, text: str) -> int:
        return max(1, len(text) // 3)  # no tokenizer here: ~3 characters per token for code is conservative

    # -- HTTP ----------------------------------------------------------------------------------------
    def _api_key(self) -> str | None:
        if not self.api_key_env:
            return None
        key = os.environ.get(self.api_key_env)
        if key:
            return key
        if self._host in _LOCAL_HOSTS:
            return None  # local servers (Ollama, llama.cpp) usually need no key
        raise EngineError(
            f"the API key for {self.shown_url} is not set: export {self.api_key_env}=... (the variable named by "
            "engines.openai.api_key_env), or set engines.openai.api_key_env = \"\" for a server without keys"
        )

    def _check_ready(self) -> None:
        if not self.model:
            raise EngineError("engines.openai.model is not set; name the model the server should use "
                              "(e.g. NARRATOR_ENGINES__OPENAI__MODEL=deepseek-coder:1.3b)")
        if not self._key_checked:
            self._api_key()
            self._key_checked = True

    def _generate(self, texts: list[str]) -> list[str]:
        self._check_ready()
        if len(texts) == 1 or self.concurrency == 1:
            return [self._complete(t) for t in texts]
        with ThreadPoolExecutor(max_workers=min(self.concurrency, len(texts)), thread_name_prefix="narrator-http") as pool:
            return list(pool.map(self._complete, texts))

    def _complete(self, user_text: str) -> str:
        body = json.dumps({
            "model": self.model,
            "messages": chat_messages(user_text),
            "max_tokens": self.max_new_tokens,
            "temperature": 0,
            "stream": False,
        }).encode()
        headers = {"Content-Type": "application/json", "Accept": "application/json", "User-Agent": "narrator"}
        key = self._api_key()
        if key:
            headers["Authorization"] = f"Bearer {key}"
        elif self._basic:
            headers["Authorization"] = f"Basic {self._basic}"
        url = self.base_url + "/chat/completions"
        shown = self.shown_url + "/chat/completions"
        last = ""
        delay = 0.0
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(delay)
            delay = self.backoff_s * (2 ** attempt)
            request = urllib.request.Request(url, data=body, headers=headers, method="POST")
            try:
                self.requests_sent += 1
                _status, raw = request_once(request, self.timeout_s)
                return _parse_answer(raw, shown)
            except _AnswerTooLarge:
                raise EngineError(f"{shown} answered more than {MAX_ANSWER_BYTES // (1 << 20)} MiB; a chat completion is "
                                  "a few KiB: check that engines.openai.base_url points at an OpenAI-compatible "
                                  "/v1 endpoint") from None
            except urllib.error.HTTPError as exc:
                detail = _error_detail(exc)
                if exc.code in _RETRY_STATUS:
                    last = f"HTTP {exc.code}{detail}"
                    retry_after = _retry_after(exc)
                    if retry_after is not None:
                        delay = min(retry_after, 60.0)
                    log.info("%s answered %s; retrying (%d/%d)", shown, last, attempt + 1, self.retries)
                    continue
                if exc.code in (401, 403):
                    raise EngineError(f"{shown} rejected the API key (HTTP {exc.code}{detail}); check ${self.api_key_env}") \
                        from None
                if exc.code == 404:
                    raise EngineError(f"{shown} answered 404{detail}: check engines.openai.base_url (it should end in /v1) "
                                      f"and that the server has the model '{self.model}'") from None
                raise EngineError(f"{shown} answered HTTP {exc.code}{detail}") from None
            except (TimeoutError, socket.timeout):
                last = f"no answer within {self.timeout_s:g} s"
                log.info("%s: %s; retrying (%d/%d)", shown, last, attempt + 1, self.retries)
            except urllib.error.URLError as exc:
                last = f"cannot connect ({_safe_reason(exc, url)})"
                log.info("%s: %s; retrying (%d/%d)", shown, last, attempt + 1, self.retries)
            except (ConnectionError, OSError) as exc:  # dropped connection mid-answer
                last = f"connection failed ({_safe_reason(exc, url)})"
        tries = self.retries + 1
        # The server cannot be reached or keeps failing: the pipeline falls back to the heuristic sentences for
        # the rest of the run, with one note, instead of stopping the report.
        if last.startswith("cannot connect"):
            raise ModelUnavailableError(
                f"the model server at {self.shown_url} is unreachable: {last} after {tries} tries; start it "
                "(e.g. `ollama serve`) or set engines.openai.base_url"
            )
        raise ModelUnavailableError(f"the model server at {self.shown_url} failed: {last} after {tries} tries; "
                                    "try again later, or raise engines.openai.timeout_s / engines.openai.retries")


def _parse_answer(raw: bytes, url: str) -> str:
    try:
        data = json.loads(raw.decode("utf-8"))
        choice = data["choices"][0]
        message = choice.get("message") or {}
        content = message.get("content")
        if content is None:
            content = choice.get("text", "")
        if not isinstance(content, str):
            raise TypeError("content is not text")
        return content
    except (ValueError, KeyError, IndexError, TypeError, AttributeError, UnicodeDecodeError) as exc:
        snippet = raw[:120].decode("utf-8", "replace").replace("\n", " ")
        raise EngineError(
            f"{url} did not answer with OpenAI chat-completions JSON ({type(exc).__name__}; got {snippet!r}); "
            "check that engines.openai.base_url points at an OpenAI-compatible /v1 endpoint"
        ) from None


def _retry_after(exc: urllib.error.HTTPError) -> float | None:
    value = exc.headers.get("Retry-After") if exc.headers else None
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def _error_detail(exc: urllib.error.HTTPError) -> str:
    try:
        body = exc.read(300).decode("utf-8", "replace")
        message = json.loads(body).get("error", {})
        message = message.get("message") if isinstance(message, dict) else message
        return f": {str(message)[:120]}" if message else ""
    except Exception:
        return ""


def _reason(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None) or exc
    return str(reason) or type(reason).__name__


def _safe_reason(exc: BaseException, url: str) -> str:
    """``_reason`` without any credentials a library may have echoed from the URL."""
    return _mask_url_text(_reason(exc))[:200]
