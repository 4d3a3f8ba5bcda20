"""The local file system behind :class:`mtop.interfaces.FileSystem`: whole-file reads and atomic writes.

Reports, run records and schedules are written with :func:`write_text_atomic`: the text goes to a
temporary file in the same directory, is flushed to disk, then renamed over the target, so a crash or
a full disk leaves the old file or the new one, never half of one.

>>> import tempfile, os
>>> fs = LocalFileSystem()
>>> path = os.path.join(tempfile.mkdtemp(), "report.html")
>>> fs.write_file(path, "<h1>fleet</h1>"); fs.read_file(path), fs.exists(path)
('<h1>fleet</h1>', True)
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from pathlib import Path

__all__ = ["LocalFileSystem", "write_text_atomic"]


def write_text_atomic(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically; the parent directory must exist.

    Raises:
        OSError: the directory is missing or not writable, or the disk is full (the target is untouched).

    >>> import tempfile
    >>> target = Path(tempfile.mkdtemp()) / "out.txt"
    >>> write_text_atomic(target, "a"); write_text_atomic(target, "b"); target.read_text()
    'b'
    """
    target = Path(path)
    tmp = target.with_name(f".{target.name}.{secrets.token_hex(6)}.tmp")
    # os.open, not mkstemp: the file gets the mode a plain write would (0o666 less the umask, not 0o600),
    # so a report stays readable by whoever serves it; an existing file keeps its own mode.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            with contextlib.suppress(FileNotFoundError):
                os.fchmod(out.fileno(), stat.S_IMODE(os.stat(target).st_mode))
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


class LocalFileSystem:
    """:class:`mtop.interfaces.FileSystem` on the local disk (what the container binds by default).

    >>> import tempfile, os
    >>> root = tempfile.mkdtemp(); LocalFileSystem().write_file(os.path.join(root, "a.html"), "x")
    >>> [os.path.basename(p) for p in LocalFileSystem().list_files(root, "*.html")]
    ['a.html']
    """

    def read_file(self, path: str) -> str:
        """The UTF-8 text of ``path``; ``OSError`` (naming it) when it cannot be read."""
        return Path(path).read_text(encoding="utf-8")

    def write_file(self, path: str, content: str) -> None:
        """Write ``content`` to ``path`` atomically (see :func:`write_text_atomic`)."""
        write_text_atomic(path, content)

    def exists(self, path: str) -> bool:
        """Whether ``path`` exists."""
        return Path(path).exists()

    def list_files(self, path: str, pattern: str = "*") -> list[str]:
        """Files directly under ``path`` matching the glob ``pattern``, sorted; none if ``path`` is missing."""
        return sorted(str(p) for p in Path(path).glob(pattern) if p.is_file())
