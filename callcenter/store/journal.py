"""A durable, append-only journal of row writes, so a dead database never loses a record.

Every batch of rows is appended (JSON lines) and fsync'd *before* the database sees it; a
checkpoint file records the last sequence number the database committed. On start, anything after
the checkpoint is replayed. Writes are idempotent upserts, so replaying twice is harmless.
Segments whose rows are all committed are deleted.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

Row = tuple[str, Any, dict[str, Any]]  # (table, key, values)


class Journal:
    def __init__(self, directory: str | os.PathLike[str], segment_bytes: int = 32 << 20) -> None:
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.segment_bytes = segment_bytes
        self.checkpoint_path = self.dir / "checkpoint"
        self.committed = self._read_checkpoint()
        self.seq = self.committed
        for seg in self._segments():
            for seq, _row in self._read_segment(seg):
                self.seq = max(self.seq, seq)
        self._file: Any = None
        self._file_path: Path | None = None

    # ---- files ---------------------------------------------------------------------------------
    def _segments(self) -> list[Path]:
        return sorted(self.dir.glob("segment-*.jsonl"))

    def _read_checkpoint(self) -> int:
        try:
            return int(self.checkpoint_path.read_text().strip() or 0)
        except FileNotFoundError:
            return 0

    @staticmethod
    def _read_segment(path: Path) -> Iterator[tuple[int, Row]]:
        with open(path, "rb") as f:
            for lineno, line in enumerate(f, 1):
                if not line.endswith(b"\n"):
                    log.warning("%s:%d: torn last line (crash while writing) ignored", path, lineno)
                    return
                try:
                    item = json.loads(line)
                    yield item["s"], (item["t"], item["k"], item["v"])
                except (ValueError, KeyError):
                    log.error("%s:%d: unreadable journal line skipped", path, lineno)

    def _open_segment(self) -> None:
        if self._file is not None and self._file.tell() < self.segment_bytes:
            return
        if self._file is not None:
            self._file.close()
        self._file_path = self.dir / f"segment-{self.seq + 1:012d}.jsonl"
        self._file = open(self._file_path, "ab")

    # ---- API -----------------------------------------------------------------------------------
    def append(self, rows: list[Row]) -> int:
        """Durably append rows; returns the sequence number of the last one."""
        if not rows:
            return self.seq
        self._open_segment()
        lines = []
        for table, key, values in rows:
            self.seq += 1
            lines.append(json.dumps({"s": self.seq, "t": table, "k": key, "v": values},
                                    ensure_ascii=False, separators=(",", ":")))
        self._file.write(("\n".join(lines) + "\n").encode("utf-8"))
        self._file.flush()
        os.fsync(self._file.fileno())
        return self.seq

    def pending(self) -> Iterator[tuple[int, Row]]:
        """Rows appended but not yet committed to the database, in order."""
        for seg in self._segments():
            for seq, row in self._read_segment(seg):
                if seq > self.committed:
                    yield seq, row

    def commit(self, seq: int) -> None:
        """The database holds everything up to ``seq``; drop what is no longer needed."""
        if seq <= self.committed:
            return
        tmp = self.checkpoint_path.with_suffix(".tmp")
        tmp.write_text(str(seq))
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, self.checkpoint_path)
        self.committed = seq
        if seq == self.seq:
            # Everything is in the database: remove all segments, start a fresh one next time.
            if self._file is not None:
                self._file.close()
                self._file = None
            for seg in self._segments():
                seg.unlink()

    @property
    def backlog(self) -> int:
        return self.seq - self.committed

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
