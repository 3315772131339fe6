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
        self._file: int | None = None  # file descriptor of the open segment
        self._file_path: Path | None = None
        self._size = 0
        self._torn = False

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
                if line == b"\n":
                    continue  # written after a torn line (see append) to end it
                try:
                    item = json.loads(line)
                    yield item["s"], (item["t"], item["k"], item["v"])
                except (ValueError, KeyError):
                    log.error("%s:%d: unreadable journal line skipped", path, lineno)

    def _open_segment(self) -> None:
        if self._file is not None and self._size < self.segment_bytes:
            return
        self._close_file()
        self._file_path = self.dir / f"segment-{self.seq + 1:012d}.jsonl"
        self._file = os.open(self._file_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        self._size = os.fstat(self._file).st_size
        # A failed write that could not be undone left a torn line here: end it first.
        self._torn = self._size > 0 and not self._ends_with_newline()

    def _ends_with_newline(self) -> bool:
        with open(self._file_path, "rb") as f:  # type: ignore[arg-type]
            f.seek(-1, os.SEEK_END)
            return f.read(1) == b"\n"

    def _close_file(self) -> None:
        if self._file is not None:
            try:
                os.close(self._file)
            except OSError:
                pass
            self._file = None

    # ---- API -----------------------------------------------------------------------------------
    def append(self, rows: list[Row]) -> int:
        """Durably append rows; returns the sequence number of the last one.

        The sequence advances only once the rows are on disk (written and fsync'd). On an error
        (ENOSPC, EIO) the partial write is cut off again, ``OSError`` propagates, and nothing
        changed: the caller may try the same rows again later.
        """
        if not rows:
            return self.seq
        self._open_segment()
        lines = []
        seq = self.seq
        for table, key, values in rows:
            seq += 1
            lines.append(json.dumps({"s": seq, "t": table, "k": key, "v": values},
                                    ensure_ascii=False, separators=(",", ":")))
        data = ("\n".join(lines) + "\n").encode("utf-8")
        if self._torn:
            data = b"\n" + data
        start = self._size
        try:
            view = memoryview(data)
            while view:
                n = os.write(self._file, view)
                view = view[n:]
            os.fsync(self._file)
        except OSError:
            self._undo(start)
            raise
        self._size = start + len(data)
        self._torn = False
        self.seq = seq
        return self.seq

    def _undo(self, size: int) -> None:
        """Cut a failed write off the segment (truncating frees space, so it normally works)."""
        try:
            os.ftruncate(self._file, size)
            self._size = size
        except OSError:
            self._torn = True  # the next write starts with a newline that ends the torn line
            self._size = os.fstat(self._file).st_size if self._file is not None else size

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
            self._close_file()
            for seg in self._segments():
                seg.unlink()

    @property
    def backlog(self) -> int:
        return self.seq - self.committed

    def close(self) -> None:
        self._close_file()
