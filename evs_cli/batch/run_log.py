"""The run's JSON-lines log (--log): one record per video, one line, one write, each with the run's own
fields (evs version, run id, command line) and when it finished."""

from __future__ import annotations

import datetime as dt
import errno
import json
import os
import sys
import uuid
from pathlib import Path

from ..errors import EvsError


def run_fields() -> dict:
    from ..version import __version__

    return {"evs_version": __version__, "run_id": uuid.uuid4().hex[:12], "command": sys.argv[:]}


def now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


class RunLog:
    """An O_APPEND descriptor: one os.write per record, so runs sharing a log never interleave lines. A log
    that cannot be written is closed, and `error` says why: the run goes on without it (its outputs are what
    matters) and fails at the end."""

    def __init__(self, path: Path):
        self.path = path
        self.error: str | None = None
        try:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            self.fd: int | None = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        except OSError as e:
            raise EvsError(f"{path}: cannot open the log ({e.strerror})") from e

    def write(self, rec: dict) -> str | None:
        """Append one record. The error, when this write found the log unwritable (said once: the records
        after it are not tried)."""
        if self.fd is None:
            return None
        line = (json.dumps(rec, default=str) + "\n").encode("utf-8")
        try:
            before = os.fstat(self.fd).st_size
            written = os.write(self.fd, line)
            if written != len(line):  # a full disk took part of it: take the part back if nobody wrote after it
                if os.fstat(self.fd).st_size == before + written:
                    os.ftruncate(self.fd, before)
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        except OSError as e:
            self.close()
            self.error = (f"{self.path}: cannot write the log ({e.strerror}); outputs already written are "
                          "kept, and the log lacks the records from here on")
            return self.error
        return None

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
