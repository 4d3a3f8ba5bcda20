"""Logging for mtop: named loggers, one ``configure()``, JSON or text lines, timing, redaction.

Modules log through ``get_logger(__name__)`` (children of the ``"mtop"`` logger) with lazy ``%``
arguments and structured fields in ``extra={"fields": {...}}``. Importing this module attaches
nothing; ``configure()`` (called by the CLI, or by a user) is the only place handlers are attached.
Every handler it attaches redacts secrets (bearer tokens, ``Authorization`` headers, passwords,
kubeconfig credentials, ``user:pass@`` URLs), and so do the formatters, whatever handler uses them.

>>> log = get_logger("mtop.collect")
>>> log.name, log.handlers
('mtop.collect', [])
"""

from __future__ import annotations

import functools
import inspect
import json
import logging as _logging
import logging.handlers as _handlers
import math
import os
import re
import sys
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, TypeVar, cast

from mtop.errors import ConfigError

if TYPE_CHECKING:
    from mtop.interfaces import Logger

__all__ = [
    "TRACE",
    "JsonFormatter",
    "Operation",
    "RedactFilter",
    "StdLogger",
    "TextFormatter",
    "configure",
    "get_logger",
    "operation",
    "redact",
    "redact_value",
    "reset",
    "rotating_file_handler",
]

ROOT = "mtop"
TRACE = 5
"""A level below DEBUG for very chatty diagnostics (``MTOP_LOG_LEVEL=TRACE``)."""
DEFAULT_MAX_BYTES = 10 * 1024 * 1024
DEFAULT_BACKUP_COUNT = 5
REDACTED = "[REDACTED]"
_MARK = "_mtop_owned"  # set on the handlers configure() attaches, so it replaces only its own

F = TypeVar("F", bound=Callable[..., Any])

# -- redaction -----------------------------------------------------------------------------------

_SECRET_KEY = r"(?:password|passwd|secret|token|api[_-]?key|key-data|certificate-data|private[_-]?key)"
_SECRET_KEY_RE = re.compile(rf"(?i)(?:{_SECRET_KEY}|authorization|credentials?)$")
# An already redacted value first (keeps redact() idempotent), then quoted forms, then a bare word.
_QUOTED_VALUE = r"""\[REDACTED\]|\\"(?:[^"\\]|\\(?!"))*\\"|"(?:[^"\\]|\\.)*"|'[^']*'|[^\s,;&}\])'"]+"""
_PATTERNS: list[tuple[re.Pattern[str], str | Callable[[re.Match[str]], str]]] = [
    # PEM private keys, whole block.
    (
        re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----", re.S),
        REDACTED,
    ),
    # https://user:pass@host -> https://user:[REDACTED]@host
    (re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^\s/:@]*):([^\s/@]+)@"), rf"\1:{REDACTED}@"),
    # Authorization: <anything up to the end of the line or a closing quote>
    (
        re.compile(r"""(?i)(\b(?:proxy-)?authorization\\?["']?\s*[:=]\s*\\?["']?)[^"'\\\r\n]+"""),
        rf"\1{REDACTED}",
    ),
    (re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9\-._~+/]+=*"), rf"\1 {REDACTED}"),
    # key=value, key: value, "key": "value" for secret-looking keys (token, password, ...).
    (
        re.compile(rf"""(?i)(?<![\w.-])([\w.-]*?{_SECRET_KEY}\\?["']?\s*[:=]\s*)({_QUOTED_VALUE})"""),
        lambda m: m.group(1) + _requote(m.group(2)),
    ),
]


def _requote(value: str) -> str:
    for quote in ('\\"', '"', "'"):
        if len(value) >= 2 * len(quote) and value.startswith(quote) and value.endswith(quote):
            return f"{quote}{REDACTED}{quote}"
    return REDACTED


def redact(text: str) -> str:
    """``text`` with secrets replaced by ``[REDACTED]``.

    >>> redact("GET https://admin:hunter2@api.example/ with Authorization: Bearer abc.def")
    'GET https://admin:[REDACTED]@api.example/ with Authorization: [REDACTED]'
    >>> redact('{"password": "p w", "user": "bob"} token=abc')
    '{"password": "[REDACTED]", "user": "bob"} token=[REDACTED]'
    """
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def redact_value(obj: Any) -> Any:
    """A copy of ``obj`` with secrets redacted: in strings, and under secret-looking dict keys.

    Dicts, lists and tuples are walked recursively; other values are returned as they are.

    >>> redact_value({"user": {"token": "abc", "name": "x"}, "urls": ["https://u:p@h"]})
    {'user': {'token': '[REDACTED]', 'name': 'x'}, 'urls': ['https://u:[REDACTED]@h']}
    """
    if isinstance(obj, str):
        return redact(obj)
    if isinstance(obj, Mapping):
        return {
            k: REDACTED if isinstance(k, str) and _SECRET_KEY_RE.search(k) and v is not None else redact_value(v)
            for k, v in obj.items()
        }
    if isinstance(obj, list):
        return [redact_value(v) for v in obj]
    if isinstance(obj, tuple):
        return tuple(redact_value(v) for v in obj)
    return obj


# Attributes every LogRecord has; anything else on a record came from ``extra=``.
_STANDARD_ATTRS = frozenset(vars(_logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


def _fields(record: _logging.LogRecord) -> dict[str, Any]:
    """The structured fields of a record: ``extra={"fields": {...}}`` plus any other ``extra`` keys."""
    out: dict[str, Any] = {}
    for key, value in vars(record).items():
        if key in _STANDARD_ATTRS:
            continue
        if key == "fields" and isinstance(value, Mapping):
            out.update(value)
        else:
            out[key] = value
    return cast(dict[str, Any], redact_value(out))


class RedactFilter(_logging.Filter):
    """Redacts a record's message, arguments and fields in place (so later handlers see it clean).

    >>> r = _logging.LogRecord("mtop", 20, "f.py", 1, "token=%s", ("abc",), None)
    >>> RedactFilter().filter(r), r.getMessage()
    (True, 'token=[REDACTED]')
    """

    def filter(self, record: _logging.LogRecord) -> bool:
        """Redact ``record``; never drops it."""
        try:
            message = record.getMessage()
        except Exception:  # a bad %-format: leave it to the formatter's error handling
            return True
        record.msg, record.args = redact(message), None
        for key, value in list(vars(record).items()):
            if key not in _STANDARD_ATTRS:
                setattr(record, key, redact_value(value))
        return True


def _level_name(record: _logging.LogRecord) -> str:
    return "TRACE" if record.levelno == TRACE else record.levelname


def _timestamp(record: _logging.LogRecord) -> str:
    moment = datetime.fromtimestamp(record.created, tz=UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _jsonable(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)  # NaN/inf are not JSON
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


class JsonFormatter(_logging.Formatter):
    """One JSON object per line: timestamp (UTC ISO 8601), level, logger, message, fields.

    Fields never overwrite the fixed keys; a clashing field is written as ``field.<name>``.

    >>> r = _logging.LogRecord("mtop.x", 20, "f.py", 1, "hi %s", ("bob",), None)
    >>> r.fields = {"rows": 3, "password": "p"}
    >>> doc = json.loads(JsonFormatter().format(r))
    >>> doc["level"], doc["logger"], doc["message"], doc["rows"], doc["password"]
    ('INFO', 'mtop.x', 'hi bob', 3, '[REDACTED]')
    """

    def format(self, record: _logging.LogRecord) -> str:
        """The record as one line of JSON, secrets redacted."""
        doc: dict[str, Any] = {
            "timestamp": _timestamp(record),
            "level": _level_name(record),
            "logger": record.name,
            "message": redact(record.getMessage()),
            "module": record.module,
            "function": record.funcName,
            "line": record.lineno,
        }
        for key, value in _fields(record).items():
            doc[f"field.{key}" if key in doc else key] = value
        if record.exc_info:
            doc["exception"] = redact(self.formatException(record.exc_info))
        elif record.exc_text:
            doc["exception"] = redact(record.exc_text)
        if record.stack_info:
            doc["stack"] = redact(self.formatStack(record.stack_info))
        return json.dumps(_jsonable(doc), ensure_ascii=False)


def _text_value(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(_jsonable(value), ensure_ascii=False)
    if isinstance(value, str) and (not text or re.search(r"[\s=\"']", text)):
        return json.dumps(text, ensure_ascii=False)
    return text


class TextFormatter(_logging.Formatter):
    """``<UTC time> <LEVEL> <logger>: <message> key=value ...``, secrets redacted.

    >>> r = _logging.LogRecord("mtop.x", 30, "f.py", 1, "slow query", None, None)
    >>> r.fields = {"query": "up", "took_ms": 12.5, "note": "a b"}
    >>> TextFormatter().format(r).split(" ", 1)[1]
    'WARNING mtop.x: slow query query=up took_ms=12.5 note="a b"'
    """

    def format(self, record: _logging.LogRecord) -> str:
        """The record as one text line (plus a traceback if any), secrets redacted."""
        line = f"{_timestamp(record)} {_level_name(record)} {record.name}: {record.getMessage()}"
        fields = _fields(record)
        if fields:
            line += " " + " ".join(f"{k}={_text_value(v)}" for k, v in fields.items())
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        elif record.exc_text:
            line += "\n" + record.exc_text
        if record.stack_info:
            line += "\n" + self.formatStack(record.stack_info)
        return redact(line)


# -- loggers and configuration -------------------------------------------------------------------


def get_logger(name: str | None = None) -> _logging.Logger:
    """The ``logging.Logger`` for ``name``, always under ``"mtop"`` (``"collect"`` -> ``"mtop.collect"``).

    >>> get_logger("collect").name, get_logger("mtop.sources.prom").name, get_logger().name
    ('mtop.collect', 'mtop.sources.prom', 'mtop')
    """
    if not name or name == ROOT:
        return _logging.getLogger(ROOT)
    return _logging.getLogger(name if name.startswith(ROOT + ".") else f"{ROOT}.{name}")


_LEVELS = {"TRACE": TRACE, "DEBUG": 10, "INFO": 20, "WARNING": 30, "WARN": 30, "ERROR": 40, "CRITICAL": 50}
_FORMATS = {"text": "text", "json": "json", "structured": "json"}


def _setting(name: str, env: Mapping[str, str], arg: Any) -> tuple[Any, str]:
    """The value of one setting and where it came from: the argument, ``MTOP_*``, then ``LDCTL_*``."""
    if arg is not None:
        return arg, f"{name.lower()} argument"
    for var in (f"MTOP_LOG_{name}", f"LDCTL_LOG_{name}"):
        value = env.get(var)
        if value not in (None, ""):
            return value, var
    return None, ""


def _parse_level(value: Any, source: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    text = str(value).strip().upper()
    if text.isdigit():
        return int(text)
    if text not in _LEVELS:
        raise ConfigError(f"unknown log level {value!r}; expected one of {', '.join(_LEVELS)}", source=source)
    return _LEVELS[text]


def rotating_file_handler(
    path: str | os.PathLike[str],
    max_bytes: int = DEFAULT_MAX_BYTES,
    backup_count: int = DEFAULT_BACKUP_COUNT,
    *,
    delay: bool = True,
) -> _handlers.RotatingFileHandler:
    """A UTF-8 ``RotatingFileHandler`` (10 MB x 5 by default); with ``delay`` the file opens on first use.

    >>> h = rotating_file_handler("unused.log", max_bytes=1024, backup_count=2)
    >>> h.maxBytes, h.backupCount
    (1024, 2)
    >>> h.close()
    """
    return _handlers.RotatingFileHandler(
        os.fspath(path), maxBytes=max_bytes, backupCount=backup_count, encoding="utf-8", delay=delay
    )


def configure(
    level: str | int | None = None,
    fmt: str | None = None,
    file: str | os.PathLike[str] | None = None,
    directory: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    stream: IO[str] | None = None,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    backup_count: int = DEFAULT_BACKUP_COUNT,
) -> None:
    """Attach mtop's handlers to the ``"mtop"`` logger: a stream (stderr) and optionally a rotating file.

    Each setting comes from its argument, else ``MTOP_LOG_LEVEL`` / ``MTOP_LOG_FORMAT`` (``text``,
    ``json`` or ``structured``) / ``MTOP_LOG_FILE`` / ``MTOP_LOG_DIR`` (``mtop.log`` inside it), else
    the guide's ``LDCTL_LOG_*`` aliases, else WARNING, text, no file. ``env`` defaults to
    ``os.environ``. Calling it again replaces the handlers it attached before and leaves other
    handlers alone. mtop's records then stop propagating to the root logger (no double lines);
    ``reset()`` undoes all of it.

    Raises:
        ConfigError: a bad level or format, or a log file that cannot be opened; names the variable.

    >>> import io
    >>> out = io.StringIO()
    >>> configure(level="INFO", fmt="json", env={}, stream=out)
    >>> get_logger("demo").info("connected", extra={"fields": {"token": "abc"}})
    >>> json.loads(out.getvalue())["token"]
    '[REDACTED]'
    >>> reset()
    """
    env = os.environ if env is None else env
    level_value, level_source = _setting("LEVEL", env, level)
    numeric_level = _parse_level("WARNING" if level_value is None else level_value, level_source)
    fmt_value, fmt_source = _setting("FORMAT", env, fmt)
    fmt_name = _FORMATS.get(str(fmt_value or "text").strip().lower())
    if fmt_name is None:
        raise ConfigError(f"unknown log format {fmt_value!r}; expected text, json or structured", source=fmt_source)
    formatter: _logging.Formatter = JsonFormatter() if fmt_name == "json" else TextFormatter()

    handlers: list[_logging.Handler] = [_logging.StreamHandler(sys.stderr if stream is None else stream)]
    path = _log_path(env, file, directory)
    if path is not None:
        target, source = path
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            # Opened now (no delay), so a bad path fails here and names its variable.
            file_handler = rotating_file_handler(target, max_bytes, backup_count, delay=False)
        except OSError as exc:
            raise ConfigError(f"cannot open log file {str(target)!r}: {exc.strerror}", source=source) from exc
        handlers.append(file_handler)

    _logging.addLevelName(TRACE, "TRACE")
    logger = get_logger()
    _remove_own_handlers(logger)
    for handler in handlers:
        handler.setFormatter(formatter)
        handler.addFilter(RedactFilter())
        setattr(handler, _MARK, True)
    # Ours go first: their filter redacts the record in place before any other handler sees it.
    logger.handlers = [*handlers, *logger.handlers]
    logger.setLevel(numeric_level)
    logger.propagate = False


def _log_path(
    env: Mapping[str, str], file: str | os.PathLike[str] | None, directory: str | os.PathLike[str] | None
) -> tuple[Path, str] | None:
    file_value, file_source = _setting("FILE", env, file)
    if file_value is not None:
        return Path(file_value).expanduser(), file_source
    dir_value, dir_source = _setting("DIR", env, directory)
    if dir_value is not None:
        return Path(dir_value).expanduser() / "mtop.log", dir_source
    return None


def _remove_own_handlers(logger: _logging.Logger) -> None:
    for handler in list(logger.handlers):
        if getattr(handler, _MARK, False):
            logger.removeHandler(handler)
            handler.close()


def reset() -> None:
    """Remove the handlers ``configure()`` attached and restore the ``"mtop"`` logger's defaults.

    >>> reset()
    >>> get_logger().propagate
    True
    """
    logger = get_logger()
    _remove_own_handlers(logger)
    logger.setLevel(_logging.NOTSET)
    logger.propagate = True


# -- the Logger protocol and operation timing ----------------------------------------------------


class StdLogger:
    """The ``mtop.interfaces.Logger`` protocol over a standard logger: ``info(message, **fields)``.

    Fields become the record's structured fields. ``bind(**fields)`` returns a logger that adds
    them to every record (and, unlike the original mtop, leaves handlers and levels alone).

    >>> log = StdLogger("collect").bind(cluster="sim")
    >>> log.name, log.context
    ('mtop.collect', {'cluster': 'sim'})
    """

    def __init__(self, name: str | _logging.Logger | None = None, *, context: Mapping[str, Any] | None = None) -> None:
        # A stdlib logger is used as it is (even outside "mtop"); a name becomes a child of "mtop".
        self._logger = name if isinstance(name, _logging.Logger) else get_logger(name)
        self.context: dict[str, Any] = dict(context or {})

    @property
    def name(self) -> str:
        """The underlying logger's name."""
        return self._logger.name

    def bind(self, **fields: Any) -> StdLogger:
        """A logger with ``fields`` added to every record."""
        return StdLogger(self._logger, context={**self.context, **fields})

    def log(self, level: int, message: str, **fields: Any) -> None:
        """Log ``message`` at ``level`` with structured ``fields`` (``exc_info=`` is passed through)."""
        if not self._logger.isEnabledFor(level):
            return
        exc_info = fields.pop("exc_info", None)
        self._logger.log(level, message, exc_info=exc_info, extra={"fields": {**self.context, **fields}}, stacklevel=3)

    def trace(self, message: str, **fields: Any) -> None:
        """Log at TRACE (5)."""
        self.log(TRACE, message, **fields)

    def debug(self, message: str, **fields: Any) -> None:
        """Log at DEBUG."""
        self.log(_logging.DEBUG, message, **fields)

    def info(self, message: str, **fields: Any) -> None:
        """Log at INFO."""
        self.log(_logging.INFO, message, **fields)

    def warning(self, message: str, **fields: Any) -> None:
        """Log at WARNING."""
        self.log(_logging.WARNING, message, **fields)

    def error(self, message: str, **fields: Any) -> None:
        """Log at ERROR."""
        self.log(_logging.ERROR, message, **fields)

    def critical(self, message: str, **fields: Any) -> None:
        """Log at CRITICAL."""
        self.log(_logging.CRITICAL, message, **fields)


class Operation:
    """Times a block and logs its start (DEBUG) and end (``duration_ms``, ``outcome``); see ``operation``.

    ``add(**fields)`` adds fields to the end record from inside the block.

    >>> ticks = iter([1.0, 1.25])
    >>> with operation("load", clock=lambda: next(ticks), rows=3) as op:
    ...     op.add(cached=False)
    >>> op.outcome, op.duration_ms, op.fields
    ('ok', 250.0, {'rows': 3, 'cached': False})
    """

    def __init__(
        self,
        name: str,
        logger: _logging.Logger | Logger | None = None,
        *,
        clock: Callable[[], float] = time.perf_counter,
        level: int = _logging.INFO,
        **fields: Any,
    ) -> None:
        self.name = name
        self.logger: Logger = StdLogger(logger) if isinstance(logger, _logging.Logger) else logger or StdLogger()
        self.clock = clock
        self.level = level
        self.fields: dict[str, Any] = dict(fields)
        self.outcome: str | None = None
        self.duration_ms: float | None = None
        self._start = 0.0

    def add(self, **fields: Any) -> None:
        """Add fields to the end record."""
        self.fields.update(fields)

    def __enter__(self) -> Operation:
        self.logger.debug(f"{self.name} started", operation=self.name, **self.fields)
        self._start = self.clock()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        self.duration_ms = round((self.clock() - self._start) * 1000.0, 3)
        end: dict[str, Any] = {"operation": self.name, **self.fields, "duration_ms": self.duration_ms}
        level = self.level
        if exc_type is None:
            self.outcome = "ok"
        elif issubclass(exc_type, Exception):
            self.outcome, level = "error", _logging.ERROR
            end.update(error=exc_type.__name__, error_message=redact(str(exc)))
        else:  # KeyboardInterrupt, asyncio.CancelledError, GeneratorExit: not a failure of the work
            self.outcome = "cancelled"
        end["outcome"] = self.outcome
        self._log(level, f"{self.name} {'failed' if self.outcome == 'error' else self.outcome}", end)
        # Returning None re-raises any exception.

    def _log(self, level: int, message: str, fields: dict[str, Any]) -> None:
        if isinstance(self.logger, StdLogger):
            self.logger.log(level, message, **fields)
        elif level >= _logging.ERROR:
            self.logger.error(message, **fields)
        else:
            self.logger.info(message, **fields)

    def _fresh(self) -> Operation:
        return Operation(self.name, self.logger, clock=self.clock, level=self.level, **self.fields)

    def __call__(self, fn: F) -> F:
        """Use the operation as a decorator: each call (sync or async) is timed on its own."""
        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                with self._fresh():
                    return await cast(Callable[..., Awaitable[Any]], fn)(*args, **kwargs)

            return cast(F, async_wrapper)

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with self._fresh():
                return fn(*args, **kwargs)

        return cast(F, wrapper)


def operation(
    name: str,
    logger: _logging.Logger | Logger | None = None,
    *,
    clock: Callable[[], float] = time.perf_counter,
    level: int = _logging.INFO,
    **fields: Any,
) -> Operation:
    """A context manager (or decorator) that logs ``name``'s start, end, ``duration_ms`` and outcome.

    The end record carries ``outcome="ok"``, or ``outcome="error"`` with ``error`` (the exception
    type) at ERROR; exceptions are always re-raised. ``clock`` is injectable so tests need no sleep.

    >>> @operation("double")
    ... def double(x: int) -> int:
    ...     return 2 * x
    >>> double(4)
    8
    """
    return Operation(name, logger, clock=clock, level=level, **fields)
