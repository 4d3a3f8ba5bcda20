"""The mock-mode overlay: services created and deleted by ``mtop create`` / ``mtop delete`` on the simulated fleet.

The seeded fleet is computed, never stored, so the package's data is never touched: changes live in one
JSON file, ``$MTOP_WORKSPACE/overlay.json`` (default ``~/.local/state/mtop``), applied over the fleet
by :class:`mtop.sources.simulated.SimulatedFleet` on every read. ``mtop sim reset`` removes it.

What the overlay means (the choice made, since the simulated fleet has no controller):

- A **created** service is stored as given (spec kept, unknown fields preserved) with server-set
  metadata (uid, creationTimestamp, generation 1, resourceVersion) and a status that says it is not
  ready: ``Ready=False``, reason ``Progressing``. No controller runs, so it gets **no pods and no
  metrics**; the collectors show it with zero ready replicas and NaN SLO figures, and it costs nothing
  (no GPU is scheduled for it).
- A **deleted** seeded service disappears with its pods and every series of them: vLLM and
  endpoint-picker series are dropped, and the GPUs its pods held read as idle and unallocated.

Every write is a transaction: read the file, change it, write a temporary file and ``os.replace`` it
(readers never see a half-written file), under a thread lock and an ``fcntl`` file lock (two
``mtop`` processes do not lose each other's changes). A ``before_commit`` callback runs just before
the write and may raise to abandon the change: nothing is written.

>>> import tempfile
>>> store = OverlayStore(Path(tempfile.mkdtemp()) / "overlay.json")
>>> store.state().empty
True
>>> store.commit(lambda s: s.with_deleted("production", "gpt-4-turbo")).deleted
frozenset({('production', 'gpt-4-turbo')})
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from mtop.errors import SourceError
from mtop.interfaces import JSONDict

__all__ = [
    "FORMAT_VERSION",
    "OVERLAY_FILE",
    "OverlayState",
    "OverlayStore",
    "created_status",
    "workspace_dir",
]

OVERLAY_FILE = "overlay.json"
FORMAT_VERSION = 1
_PROGRESSING = "Progressing"
_PROGRESSING_MESSAGE = (
    "Waiting for the workload: the simulated fleet runs no controller, so created services get no pods."
)


def workspace_dir(env: Mapping[str, str] | None = None) -> Path:
    """Where mock-mode state lives: ``$MTOP_WORKSPACE``, else ``~/.local/state/mtop``.

    This is the one reader of ``MTOP_WORKSPACE`` (a state directory, not a configuration value).

    >>> workspace_dir({"MTOP_WORKSPACE": "/tmp/ws"}).as_posix()
    '/tmp/ws'
    >>> workspace_dir({}).parts[-3:]
    ('.local', 'state', 'mtop')
    """
    env = os.environ if env is None else env
    given = env.get("MTOP_WORKSPACE")
    return Path(given).expanduser() if given else Path.home() / ".local" / "state" / "mtop"


def _key(obj: Mapping[str, Any]) -> tuple[str, str]:
    meta = obj.get("metadata") or {}
    return str(meta.get("namespace", "")), str(meta.get("name", ""))


@dataclass(frozen=True)
class OverlayState:
    """The overlay's content: created service objects and the deleted seeded services.

    >>> s = OverlayState().with_deleted("staging", "a")
    >>> s.hidden("staging", "a"), s.hidden("staging", "b"), s.empty
    (True, False, False)
    """

    created: tuple[JSONDict, ...] = ()
    """Created LLMInferenceService objects, sorted by (namespace, name)."""
    deleted: frozenset[tuple[str, str]] = frozenset()
    """``(namespace, name)`` of seeded services that were deleted."""
    revision: int = 0
    """Bumped by every change: the resourceVersion given to created objects."""

    @property
    def empty(self) -> bool:
        """Whether the overlay changes nothing.

        >>> OverlayState().empty
        True
        """
        return not self.created and not self.deleted

    def hidden(self, namespace: str, name: str) -> bool:
        """Whether the seeded service ``namespace/name`` is hidden (deleted, or replaced by a created one).

        >>> OverlayState().hidden("production", "gpt-4-turbo")
        False
        """
        return (namespace, name) in self.deleted

    def find_created(self, namespace: str, name: str) -> JSONDict | None:
        """The created object ``namespace/name``, if any.

        >>> OverlayState().find_created("production", "x") is None
        True
        """
        return next((o for o in self.created if _key(o) == (namespace, name)), None)

    def with_created(self, obj: JSONDict) -> OverlayState:
        """A copy with ``obj`` added (replacing a created object of the same key).

        >>> OverlayState().with_created({"metadata": {"namespace": "a", "name": "b"}}).revision
        1
        """
        key = _key(obj)
        items = sorted([*(o for o in self.created if _key(o) != key), obj], key=_key)
        return replace(self, created=tuple(items), revision=self.revision + 1)

    def with_deleted(self, namespace: str, name: str) -> OverlayState:
        """A copy where ``namespace/name`` is gone: a created object is dropped, a seeded one hidden.

        >>> s = OverlayState().with_created({"metadata": {"namespace": "a", "name": "b"}})
        >>> s.with_deleted("a", "b").created
        ()
        """
        key = (namespace, name)
        if any(_key(o) == key for o in self.created):
            return replace(self, created=tuple(o for o in self.created if _key(o) != key), revision=self.revision + 1)
        return replace(self, deleted=self.deleted | {key}, revision=self.revision + 1)

    def to_json(self) -> JSONDict:
        """The file's content.

        >>> OverlayState().to_json()
        {'version': 1, 'revision': 0, 'created': [], 'deleted': []}
        """
        return {
            "version": FORMAT_VERSION,
            "revision": self.revision,
            "created": list(self.created),
            "deleted": [{"namespace": ns, "name": n} for ns, n in sorted(self.deleted)],
        }

    @classmethod
    def from_json(cls, data: Any, where: str = "overlay") -> OverlayState:
        """Parse the file's content; a malformed file is a ``SourceError`` naming it.

        >>> OverlayState.from_json({"version": 1, "created": [], "deleted": [{"namespace": "a", "name": "b"}]}).deleted
        frozenset({('a', 'b')})
        """
        bad = SourceError(f"{where} is not a valid mtop overlay (run `mtop sim reset` to clear it)", source="simulated")
        if not isinstance(data, dict) or data.get("version") != FORMAT_VERSION:
            raise bad
        created, deleted = data.get("created", []), data.get("deleted", [])
        if not isinstance(created, list) or not isinstance(deleted, list):
            raise bad
        if not all(isinstance(o, dict) and isinstance(o.get("metadata"), dict) for o in created):
            raise bad
        try:
            gone = frozenset((str(d["namespace"]), str(d["name"])) for d in deleted)
        except (TypeError, KeyError):
            raise bad from None
        return cls(tuple(sorted(created, key=_key)), gone, int(data.get("revision", 0)))


@dataclass
class OverlayStore:
    """The overlay file: cached reads (re-read when the file changes) and atomic, locked transactions.

    >>> import tempfile
    >>> store = OverlayStore(Path(tempfile.mkdtemp()) / "overlay.json")
    >>> _ = store.commit(lambda s: s.with_deleted("a", "b"))
    >>> store.reset(), store.state().empty
    (True, True)
    """

    path: Path
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)
    _cached: tuple[tuple[int, int, int], OverlayState] | None = field(default=None, init=False, repr=False)

    @classmethod
    def default(cls, workspace: str | os.PathLike[str] | None = None, env: Mapping[str, str] | None = None) -> (
        OverlayStore
    ):  # fmt: skip
        """The store in ``workspace``, else in the default workspace (:func:`workspace_dir`).

        >>> OverlayStore.default(env={"MTOP_WORKSPACE": "/tmp/ws"}).path.as_posix()
        '/tmp/ws/overlay.json'
        """
        base = Path(workspace).expanduser() if workspace else workspace_dir(env)
        return cls(base / OVERLAY_FILE)

    def _stamp(self) -> tuple[int, int, int] | None:
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise SourceError(f"cannot read the overlay {self.path}: {exc.strerror}", source="simulated") from None
        return st.st_mtime_ns, st.st_size, st.st_ino

    def _read(self) -> OverlayState:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return OverlayState()
        except OSError as exc:
            raise SourceError(f"cannot read the overlay {self.path}: {exc.strerror}", source="simulated") from None
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise SourceError(
                f"{self.path}, line {exc.lineno}: not valid JSON (run `mtop sim reset` to clear it)", source="simulated"
            ) from None
        return OverlayState.from_json(data, str(self.path))

    def state(self) -> OverlayState:
        """The current overlay: one ``stat`` per call, the file re-read only when it changed.

        >>> import tempfile
        >>> OverlayStore(Path(tempfile.mkdtemp()) / "none.json").state()
        OverlayState(created=(), deleted=frozenset(), revision=0)
        """
        stamp = self._stamp()
        if stamp is None:
            return OverlayState()
        cached = self._cached
        if cached is not None and cached[0] == stamp:
            return cached[1]
        state = self._read()
        self._cached = (stamp, state)
        return state

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        with self._lock:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                handle = open(self.path.with_name(self.path.name + ".lock"), "a+b")  # noqa: SIM115 (held below)
            except OSError as exc:
                raise SourceError(
                    f"cannot write the overlay in {self.path.parent}: {exc.strerror}", source="simulated"
                ) from None
            with handle:
                try:
                    import fcntl
                except ImportError:  # pragma: no cover - not POSIX: the thread lock still serialises this process
                    yield
                    return
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
                try:
                    yield
                finally:
                    fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

    def commit(
        self,
        change: Callable[[OverlayState], OverlayState],
        before_commit: Callable[[], None] | None = None,
    ) -> OverlayState:
        """Apply ``change`` to the current file content and write the result atomically; returns it.

        ``change`` and ``before_commit`` may raise: nothing is written then.

        >>> import tempfile
        >>> store = OverlayStore(Path(tempfile.mkdtemp()) / "o.json")
        >>> def refuse() -> None:
        ...     raise RuntimeError("cancelled")
        >>> try:
        ...     store.commit(lambda s: s.with_deleted("a", "b"), before_commit=refuse)
        ... except RuntimeError:
        ...     pass
        >>> store.path.exists()
        False
        """
        with self._locked():
            new = change(self._read())
            if before_commit is not None:
                before_commit()
            self._write(new)
            self._cached = None
            return new

    def _write(self, state: OverlayState) -> None:
        text = json.dumps(state.to_json(), indent=1, sort_keys=True)
        fd, tmp = tempfile.mkstemp(prefix=".overlay-", suffix=".tmp", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(text)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    def reset(self) -> bool:
        """Remove the overlay (the seeded fleet again); ``False`` when there was none.

        >>> import tempfile
        >>> OverlayStore(Path(tempfile.mkdtemp()) / "o.json").reset()
        False
        """
        with self._locked():
            self._cached = None
            try:
                self.path.unlink()
            except FileNotFoundError:
                return False
            return True


def created_status(obj: Mapping[str, Any], now: datetime, url: str) -> JSONDict:
    """The status a created service shows: accepted, not ready, waiting for a workload that never comes.

    >>> from datetime import UTC
    >>> st = created_status({"metadata": {"name": "x"}}, datetime(2026, 1, 1, tzinfo=UTC), "http://gw/ns/x")
    >>> [(c["type"], c["status"]) for c in st["conditions"]][-1]
    ('Ready', 'False')
    """
    stamp = now.strftime("%Y-%m-%dT%H:%M:%SZ")

    def cond(kind: str, ok: bool) -> JSONDict:
        c: JSONDict = {"type": kind, "status": "True" if ok else "False", "lastTransitionTime": stamp}
        if not ok:
            c.update(reason=_PROGRESSING, message=_PROGRESSING_MESSAGE)
        return c

    kinds: Sequence[tuple[str, bool]] = (
        ("PresetsCombined", True),
        ("MainWorkloadReady", False),
        ("WorkloadsReady", False),
        ("RouterReady", False),
        ("Ready", False),
    )
    meta = obj.get("metadata") or {}
    return {
        "observedGeneration": int(meta.get("generation", 1) or 1),
        "conditions": [cond(k, ok) for k, ok in kinds],
        "url": url,
        "addresses": [{"url": url}],
    }
