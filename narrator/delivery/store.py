"""The delivery state in the user data dir: the OUTBOX (deliveries waiting for a retry) and the LEDGER.

``data_dir()`` is ``$NARRATOR_DATA_DIR`` or ``platformdirs.user_data_dir("narrator")``. Layout::

    outbox/<key>.json   one waiting delivery: destination, the parcel (files inlined as base64), the
                        SMTP/webhook settings to retry with (never a password), attempts, last error
    outbox/broken/      entries that could not be read (kept, not deleted)
    delivered.json      the ledger: key -> when, where (shown form), content identity, title
    .lock               taken (flock) while a delivery checks the ledger, sends and records

Every file is written to a temporary name in its directory, flushed, then moved in place (``os.replace``),
so a crash leaves the old state or the new one, never half of one.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import tempfile
import time
from dataclasses import fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator, Mapping

from narrator.delivery.model import PAYLOAD_SCHEMA_VERSION, DeliveryError, Destination, Parcel

__all__ = ["data_dir", "delivery_key", "Ledger", "Outbox", "OutboxEntry", "state_lock"]

LEDGER_NAME = "delivered.json"
LEDGER_LIMIT = 5000  # entries kept (the oldest go first)


def data_dir() -> Path:
    override = os.environ.get("NARRATOR_DATA_DIR")
    if override:
        return Path(override).expanduser()
    from platformdirs import user_data_dir

    return Path(user_data_dir("narrator"))


def delivery_key(destination: Destination, identity: str) -> str:
    """The ledger and outbox key: the canonical destination and the content identity, hashed."""
    return hashlib.sha256(f"{destination.uri}\n{identity}".encode()).hexdigest()[:24]


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, ensure_ascii=False, indent=1)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o600)  # report contents: readable by the user only
        os.replace(tmp, path)
        tmp = ""
    finally:
        if tmp:
            with contextlib.suppress(OSError):
                os.unlink(tmp)


@contextlib.contextmanager
def state_lock(root: Path) -> Iterator[None]:
    """An exclusive lock on the delivery state (POSIX flock; no lock where flock does not exist)."""
    try:
        import fcntl
    except ImportError:  # Windows: one run at a time is the user's business
        yield
        return
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".lock", "a+") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


class Ledger:
    """What was delivered where: ``key -> {at, destination, identity, title}`` in ``delivered.json``."""

    def __init__(self, root: Path) -> None:
        self.path = root / LEDGER_NAME

    def _read(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            entries = data.get("entries", {})
            return entries if isinstance(entries, dict) else {}
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise DeliveryError(f"cannot read the delivery ledger {self.path}: {exc}; move it away to start a "
                                "new one (deliveries it lists may then be sent again)") from None

    def get(self, key: str) -> Mapping[str, Any] | None:
        return self._read().get(key)

    def record(self, key: str, destination: Destination, parcel: Parcel) -> None:
        entries = self._read()
        entries[key] = {"at": _now(), "destination": destination.display, "identity": parcel.identity,
                        "title": parcel.subject}
        if len(entries) > LEDGER_LIMIT:
            keep = sorted(entries.items(), key=lambda kv: str(kv[1].get("at", "")))[-LEDGER_LIMIT:]
            entries = dict(keep)
        try:
            _write_json(self.path, {"version": 1, "entries": entries})
        except OSError as exc:
            raise DeliveryError(f"delivered, but cannot update the ledger {self.path}: {exc.strerror or exc}; "
                                "a rerun may send it again") from None


def _inline(paths: tuple[Path, ...]) -> list[dict[str, str]]:
    return [{"name": Path(p).name, "data": base64.b64encode(Path(p).read_bytes()).decode("ascii")} for p in paths]


def parcel_to_json(parcel: Parcel) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for f in fields(Parcel):
        value = getattr(parcel, f.name)
        if f.name in ("files", "attachments"):
            data[f.name] = _inline(value)
        elif isinstance(value, tuple):
            data[f.name] = list(value)
        elif isinstance(value, Mapping):
            data[f.name] = dict(value)
        else:
            data[f.name] = value
    return data


def parcel_from_json(data: Mapping[str, Any], scratch: Path) -> Parcel:
    """The stored parcel; its files are written back under ``scratch`` (a temporary directory)."""
    values: dict[str, Any] = {}
    for f in fields(Parcel):
        if f.name not in data:
            continue
        value = data[f.name]
        if f.name in ("files", "attachments"):
            folder = scratch / f.name
            folder.mkdir(parents=True, exist_ok=True)
            paths = []
            for item in value:
                path = folder / Path(str(item["name"])).name  # a stored name cannot climb out of scratch
                path.write_bytes(base64.b64decode(item["data"]))
                paths.append(path)
            values[f.name] = tuple(paths)
        elif f.name in ("repositories", "highlights", "attention"):
            values[f.name] = tuple(str(v) for v in value)
        elif f.name == "numbers":
            values[f.name] = {str(k): int(v) for k, v in dict(value).items()}
        else:
            values[f.name] = value
    return Parcel(**values)


class OutboxEntry:
    """One waiting delivery, as stored."""

    def __init__(self, path: Path, data: dict[str, Any]) -> None:
        self.path = path
        self.data = data

    @property
    def key(self) -> str:
        return self.path.stem

    @property
    def destination(self) -> str:
        return str(self.data.get("destination", ""))

    @property
    def attempts(self) -> int:
        return int(self.data.get("attempts", 0))

    @property
    def last_error(self) -> str:
        return str(self.data.get("last_error", ""))

    @property
    def created_at(self) -> str:
        return str(self.data.get("created_at", ""))

    @property
    def title(self) -> str:
        return str(self.data.get("parcel", {}).get("title", ""))


class Outbox:
    """``outbox/<key>.json`` files; one per (destination, content), the newest failure replacing the older."""

    def __init__(self, root: Path) -> None:
        self.dir = root / "outbox"

    def path_for(self, key: str) -> Path:
        return self.dir / f"{key}.json"

    def put(self, key: str, destination: Destination, parcel: Parcel, reason: str, attempts: int,
            transient: bool, settings: Mapping[str, Any]) -> Path:
        """Store (or update) the waiting delivery; ``DeliveryError`` when even that is impossible."""
        path = self.path_for(key)
        previous = self.load(path) if path.exists() else None
        data = previous.data if previous is not None else {
            "version": PAYLOAD_SCHEMA_VERSION, "created_at": _now(), "attempts": 0,
        }
        try:
            data.update({
                "destination": destination.uri, "shown": destination.display, "updated_at": _now(),
                "attempts": int(data.get("attempts", 0)) + attempts, "last_error": reason, "transient": transient,
                "parcel": parcel_to_json(parcel), "settings": dict(settings),
            })
            _write_json(path, data)
        except OSError as exc:
            raise DeliveryError(f"cannot keep the delivery in the outbox {self.dir}: {exc.strerror or exc}; "
                                "set NARRATOR_DATA_DIR to a writable directory") from None
        return path

    def load(self, path: Path) -> OutboxEntry | None:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(data, dict) or "destination" not in data or "parcel" not in data:
                raise ValueError("not an outbox entry")
            return OutboxEntry(path, data)
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            return None

    def entries(self) -> list[OutboxEntry]:
        """Every readable entry, oldest first (unreadable files are moved to ``broken/``)."""
        if not self.dir.is_dir():
            return []
        out = []
        for path in sorted(self.dir.glob("*.json")):
            entry = self.load(path)
            if entry is None:
                self._set_aside(path)
                continue
            out.append(entry)
        return sorted(out, key=lambda e: (e.created_at, e.key))

    def _set_aside(self, path: Path) -> None:
        broken = self.dir / "broken"
        with contextlib.suppress(OSError):
            broken.mkdir(parents=True, exist_ok=True)
            os.replace(path, broken / f"{path.stem}-{int(time.time())}.json")

    def remove(self, key: str) -> bool:
        try:
            self.path_for(key).unlink()
            return True
        except FileNotFoundError:
            return False

    def bump(self, entry: OutboxEntry, reason: str, transient: bool) -> None:
        entry.data.update({"attempts": entry.attempts + 1, "last_error": reason, "transient": transient,
                           "updated_at": _now()})
        try:
            _write_json(entry.path, entry.data)
        except OSError as exc:
            raise DeliveryError(f"cannot update the outbox entry {entry.path}: {exc.strerror or exc}") from None
