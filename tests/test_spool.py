"""``app/spool.Spool``: per-commit records pickled to an anonymous temporary file, read back by position and in
order (again and again, across block boundaries, with appends in between), and kept in memory when no temporary
file can be made."""

from __future__ import annotations

import tempfile

import pytest

import narrator.report.spill as spill
from narrator.app.spool import Spool
from narrator.report.model import Judgment


def _records(n: int) -> list:
    return [(k, "x" * (k % 97), Judgment(score=float(k), tier="routine", reasons=("r",), description=f"d{k}",
                                         description_source="subject")) for k in range(n)]


@pytest.mark.parametrize("on_disk", [True, False])
def test_records_come_back_by_position_and_in_order(monkeypatch, on_disk):
    monkeypatch.setattr(spill, "_BLOCK", 300)  # many blocks
    if not on_disk:
        monkeypatch.setattr(tempfile, "TemporaryFile", lambda **kwargs: (_ for _ in ()).throw(OSError("read-only")))
    spool = Spool()
    records = _records(500)
    for k, record in enumerate(records[:300]):
        assert spool.append(record) == k
    assert list(spool) == records[:300]
    assert spool.get(123) == records[123]
    for record in records[300:]:  # appends after reads land after the others
        spool.append(record)
    assert len(spool) == 500
    assert list(spool) == records and list(spool) == records  # iterated again
    assert [spool.get(k) for k in (499, 0, 250)] == [records[499], records[0], records[250]]
    spool.close()


def test_a_record_larger_than_a_block_is_read_whole(monkeypatch):
    monkeypatch.setattr(spill, "_BLOCK", 64)
    spool = Spool()
    records = ["a" * 1000, "b", "c" * 200]
    for record in records:
        spool.append(record)
    assert list(spool) == records


def test_the_file_has_no_name_in_the_repository(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    spool = Spool()
    spool.append("x")
    assert list(tmp_path.iterdir()) == []
    spool.close()
