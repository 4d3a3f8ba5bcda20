"""A small dependency-injection container: explicit bindings, lazy ``inject``, scoped overrides.

Nothing happens at import. The decorators ``@singleton(T)``, ``@transient(T)`` and ``@factory(T)``
only *record* a binding; ``install_bindings(container)`` copies the recorded bindings into a
container (``mtop.connect()`` does that on a fresh one). ``inject(T)`` is a lazy reference
resolved against the *current* container when first used, so a default argument evaluated at
definition time still sees a container installed later.

Which container is current: the innermost ``override(...)`` of this thread/task (a context
variable), else the process-wide one given to ``set_current``.

>>> class Clock:
...     pass
>>> c = Container()
>>> c.register_singleton(Clock)
>>> c.resolve(Clock) is c.resolve(Clock)
True
"""

from __future__ import annotations

import contextlib
import inspect
import threading
import types
import typing
import weakref
from collections.abc import Callable, Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Literal, TypeVar, cast

from mtop.errors import ContainerError, CycleError, UnregisteredError

__all__ = [
    "Binding",
    "Container",
    "current_container",
    "factory",
    "inject",
    "install_bindings",
    "override",
    "set_current",
    "singleton",
    "transient",
    "unwrap",
]

T = TypeVar("T")
C = TypeVar("C", bound=Callable[..., Any])

# Interfaces are usually Protocols; mypy rejects a Protocol where ``type[T]`` is expected
# ([type-abstract]) but accepts it as ``Callable[..., T]``, so keys are typed that way. Bound
# implementations are typed loosely (``object``): mypy cannot relate an instance to a Protocol
# key through one TypeVar (it infers ``object`` or rejects a valid pair), so only ``resolve`` and
# ``inject`` are generic.
Key = Callable[..., T]
Lifetime = Literal["singleton", "transient", "factory"]

_MISSING: Any = object()


@dataclass(frozen=True)
class Binding:
    """One recorded binding: ``iface`` is provided by ``target`` with a lifetime.

    ``target`` is a class to construct, a factory to call, or (singletons only) a ready instance.

    >>> Binding(int, int, "transient").lifetime
    'transient'
    """

    iface: Any
    target: Any
    lifetime: Lifetime
    cache: bool = False
    """For factories: call once and keep the result (a singleton factory)."""


def _name(obj: Any) -> str:
    module = getattr(obj, "__module__", None)
    qualname = getattr(obj, "__qualname__", None) or getattr(obj, "__name__", None)
    if qualname is None:
        return repr(obj)
    return qualname if module in (None, "builtins") else f"{module}.{qualname}"


def _init_of(cls: type) -> Any:
    for klass in cls.__mro__:
        if "__init__" in vars(klass):
            return vars(klass)["__init__"]
    return None  # pragma: no cover - object defines __init__


def _unwrap_optional(annotation: Any) -> tuple[Any, bool]:
    """``Optional[T]`` -> ``(T, True)``; anything else -> ``(annotation, False)``."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1 and len(typing.get_args(annotation)) == 2:
            return args[0], True
    return annotation, False


# The chain of keys being resolved on this thread; shared by all containers so that a factory
# calling ``resolve`` (or a lazy ``inject`` used inside a constructor) still detects cycles.
_chain = threading.local()


def _current_chain() -> list[Any]:
    chain: list[Any] | None = getattr(_chain, "keys", None)
    if chain is None:
        chain = _chain.keys = []
    return chain


class Container:
    """Bindings from interface types to implementations, resolved by constructor annotations.

    Constructor (or factory) parameters are resolved by their type annotation
    (``typing.get_type_hints``, so string annotations work; ``Optional[T]`` is unwrapped).
    A parameter whose type is not registered keeps its default, gets ``None`` if it is
    ``Optional`` without a default, and otherwise raises ``UnregisteredError``. No auto-wiring
    of unregistered classes. ``resolve(Container)`` returns the container itself.

    A child container (``Container(parent=...)``) falls back to its parent. Singletons are built
    by the container that owns the binding; transients and factories are built in the asking
    container, so a child's overrides reach them.

    >>> class Repo:
    ...     pass
    >>> class Service:
    ...     def __init__(self, repo: Repo, retries: int = 3) -> None:
    ...         self.repo, self.retries = repo, retries
    >>> c = Container()
    >>> c.register_singleton(Repo)
    >>> c.register_transient(Service)
    >>> s = c.resolve(Service)
    >>> (s.repo is c.resolve(Repo), s.retries, s is c.resolve(Service))
    (True, 3, False)
    """

    def __init__(self, parent: Container | None = None) -> None:
        self.parent = parent
        self._bindings: dict[Any, Binding] = {}
        self._instances: dict[Any, Any] = {}
        # One re-entrant lock per container, held only while building a singleton: nested
        # resolution on the same thread re-enters it, and a single lock cannot deadlock on order.
        self._lock = threading.RLock()

    # -- registration -------------------------------------------------------------------------

    def register_singleton(self, iface: Key[Any], impl: object = None) -> None:
        """Bind ``iface`` to one shared instance: a class (built on first use) or an instance.

        >>> c = Container()
        >>> c.register_singleton(str, "hello")
        >>> c.resolve(str)
        'hello'
        """
        target = iface if impl is None else impl
        self._add(Binding(iface, target, "singleton"))

    def register_transient(self, iface: Key[Any], impl: Callable[..., object] | None = None) -> None:
        """Bind ``iface`` to a class built anew on every ``resolve``.

        >>> c = Container()
        >>> c.register_transient(list)
        >>> c.resolve(list) is c.resolve(list)
        False
        """
        self._add(Binding(iface, iface if impl is None else impl, "transient"))

    def register_factory(self, iface: Key[Any], factory: Callable[..., object], *, singleton: bool = False) -> None:
        """Bind ``iface`` to a callable whose parameters are resolved like a constructor's.

        The factory is called on every ``resolve``, or once when ``singleton=True``.

        >>> c = Container()
        >>> c.register_singleton(int, 21)
        >>> c.register_factory(str, lambda n: str(n * 2))
        >>> c.resolve(str)  # the lambda has no annotation, so this fails
        Traceback (most recent call last):
        mtop.errors.UnregisteredError: str needs parameter 'n', which has no annotation and no default
        >>> def double(n: int) -> str:
        ...     return str(n * 2)
        >>> c.register_factory(str, double)
        >>> c.resolve(str)
        '42'
        """
        self._add(Binding(iface, factory, "factory", cache=singleton))

    def _add(self, binding: Binding) -> None:
        with self._lock:
            self._bindings[binding.iface] = binding
            self._instances.pop(binding.iface, None)

    def is_registered(self, iface: Any) -> bool:
        """Whether ``iface`` has a binding here or in a parent.

        >>> Container().is_registered(int)
        False
        """
        return self._lookup(iface) is not None

    __contains__ = is_registered

    def registered(self) -> list[str]:
        """Sorted names of every bound interface, parents included.

        >>> c = Container()
        >>> c.register_singleton(int, 1)
        >>> c.registered()
        ['int']
        """
        names: set[str] = set()
        node: Container | None = self
        while node is not None:
            names.update(_name(k) for k in node._bindings)
            node = node.parent
        return sorted(names)

    def child(self) -> Container:
        """A new container whose unknown keys fall back to this one.

        >>> c = Container()
        >>> c.register_singleton(int, 1)
        >>> c.child().resolve(int)
        1
        """
        return Container(parent=self)

    # -- resolution ---------------------------------------------------------------------------

    def resolve(self, iface: Key[T]) -> T:
        """The object bound to ``iface``.

        Raises:
            UnregisteredError: nothing is bound to ``iface`` (or to one of its dependencies).
            CycleError: resolving ``iface`` needs ``iface`` again.

        >>> Container().resolve(float)
        Traceback (most recent call last):
        mtop.errors.UnregisteredError: no binding for float; registered: (none)
        """
        if iface is Container:
            return cast(T, self)
        chain = _current_chain()
        if iface in chain:
            cycle = [*chain[chain.index(iface) :], iface]
            raise CycleError("dependency cycle: " + " -> ".join(_name(k) for k in cycle))
        found = self._lookup(iface)
        if found is None:
            needed = f" (needed by {' -> '.join(_name(k) for k in chain)})" if chain else ""
            registered = ", ".join(self.registered()) or "(none)"
            raise UnregisteredError(f"no binding for {_name(iface)}{needed}; registered: {registered}")
        owner, binding = found
        chain.append(iface)
        try:
            if binding.lifetime == "singleton" or binding.cache:
                return cast(T, owner._shared(binding))
            return cast(T, self._build(binding))
        finally:
            chain.pop()

    get = resolve

    def _lookup(self, iface: Any) -> tuple[Container, Binding] | None:
        node: Container | None = self
        while node is not None:
            binding = node._bindings.get(iface)
            if binding is not None:
                return node, binding
            node = node.parent
        return None

    def _shared(self, binding: Binding) -> Any:
        instance = self._instances.get(binding.iface, _MISSING)
        if instance is not _MISSING:
            return instance
        with self._lock:
            instance = self._instances.get(binding.iface, _MISSING)
            if instance is _MISSING:
                instance = self._build(binding)
                # Only keep it if the binding was not replaced while we were building.
                if self._bindings.get(binding.iface) is binding:
                    self._instances[binding.iface] = instance
            return instance

    def _build(self, binding: Binding) -> Any:
        target = binding.target
        if binding.lifetime == "singleton" and not isinstance(target, type):
            return target  # a ready instance
        args, kwargs = self._arguments(binding.iface, target)
        return target(*args, **kwargs)

    def _arguments(self, iface: Any, target: Callable[..., Any]) -> tuple[list[Any], dict[str, Any]]:
        try:
            signature = inspect.signature(target)
        except (TypeError, ValueError):  # some builtins have no signature: call with nothing
            return [], {}
        # The constructor's own annotations (resolved in its module), or the factory's.
        hinted = _init_of(target) if isinstance(target, type) else target
        try:
            hints = typing.get_type_hints(hinted)
        except Exception as exc:  # an annotation that cannot be evaluated (e.g. TYPE_CHECKING-only name)
            hints = {}
            hint_error: Exception | None = exc
        else:
            hint_error = None
        args: list[Any] = []
        kwargs: dict[str, Any] = {}
        for param in signature.parameters.values():
            if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
                continue
            value = self._argument(iface, param, hints, hint_error)
            if value is _MISSING:
                continue
            if param.kind is param.POSITIONAL_ONLY:
                args.append(value)
            else:
                kwargs[param.name] = value
        return args, kwargs

    def _argument(self, iface: Any, param: inspect.Parameter, hints: dict[str, Any], error: Exception | None) -> Any:
        has_default = param.default is not param.empty
        if param.name not in hints:
            if has_default:
                return _MISSING
            why = f"cannot be evaluated ({error})" if error else "has no annotation and no default"
            raise UnregisteredError(f"{_name(iface)} needs parameter {param.name!r}, which {why}")
        annotation, optional = _unwrap_optional(hints[param.name])
        if annotation is Container or self.is_registered(annotation):
            return self.resolve(annotation)
        if has_default:
            return _MISSING
        if optional:
            return None
        registered = ", ".join(self.registered()) or "(none)"
        raise UnregisteredError(
            f"{_name(iface)} needs parameter '{param.name}: {_name(annotation)}', "
            f"but {_name(annotation)} is not registered; registered: {registered}"
        )


# -- recorded bindings (decorators) --------------------------------------------------------------

_PENDING: list[Binding] = []
_PENDING_LOCK = threading.Lock()


def _record(binding: Binding) -> None:
    with _PENDING_LOCK:
        _PENDING.append(binding)


@contextlib.contextmanager
def recording() -> Iterator[list[Binding]]:
    """Record decorator bindings into a fresh list for the duration (tests and examples use it).

    >>> with recording() as recorded:
    ...     _ = transient(object)(dict)
    >>> [b.target for b in recorded]
    [<class 'dict'>]
    """
    global _PENDING
    with _PENDING_LOCK:
        saved, _PENDING = _PENDING, []
    try:
        yield _PENDING
    finally:
        with _PENDING_LOCK:
            _PENDING = saved


def singleton(iface: Key[Any]) -> Callable[[C], C]:
    """Record that the decorated class provides ``iface`` as a singleton (nothing is built now).

    >>> with recording():
    ...     @singleton(object)
    ...     class Thing:
    ...         pass
    >>> Thing.__name__  # the class is returned unchanged
    'Thing'
    """

    def record(cls: C) -> C:
        _record(Binding(iface, cls, "singleton"))
        return cls

    return record


def transient(iface: Key[Any]) -> Callable[[C], C]:
    """Record that the decorated class provides ``iface``, built anew on each resolve.

    >>> with recording():
    ...     transient(object)(dict) is dict
    True
    """

    def record(cls: C) -> C:
        _record(Binding(iface, cls, "transient"))
        return cls

    return record


def factory(iface: Key[Any], *, singleton: bool = False) -> Callable[[C], C]:
    """Record that the decorated function builds ``iface`` (called per resolve, or once).

    >>> with recording():
    ...     @factory(str)
    ...     def make_greeting() -> str:
    ...         return "hi"
    >>> make_greeting()
    'hi'
    """

    def record(fn: C) -> C:
        _record(Binding(iface, fn, "factory", cache=singleton))
        return fn

    return record


def install_bindings(container: Container, bindings: list[Binding] | None = None) -> Container:
    """Copy the recorded bindings (or ``bindings``) into ``container`` and return it.

    Two recorded bindings of one interface to *different* implementations are an error (the
    original mtop silently let the last import win); the same class recorded twice, as after a
    module reload, is replaced.

    Raises:
        ContainerError: two implementations were recorded for one interface.

    >>> c = install_bindings(Container(), [Binding(int, 7, "singleton")])
    >>> c.resolve(int)
    7
    """
    if bindings is None:
        with _PENDING_LOCK:
            bindings = list(_PENDING)
    chosen: dict[Any, Binding] = {}
    for binding in bindings:
        previous = chosen.get(binding.iface)
        if previous is not None and _name(previous.target) != _name(binding.target):
            raise ContainerError(
                f"two implementations recorded for {_name(binding.iface)}: "
                f"{_name(previous.target)} and {_name(binding.target)}; register one explicitly"
            )
        chosen[binding.iface] = binding
    for binding in chosen.values():
        container._add(binding)
    return container


# -- the current container and lazy references ---------------------------------------------------

_global: Container | None = None
_global_lock = threading.Lock()
_override: ContextVar[Container | None] = ContextVar("mtop_container_override", default=None)


def current_container() -> Container:
    """The container in effect: the innermost ``override`` here, else the one from ``set_current``.

    Raises:
        ContainerError: no container has been made current.

    >>> with override(Container()) as c:
    ...     current_container() is c
    True
    """
    container = _override.get()
    if container is None:
        container = _global
    if container is None:
        raise ContainerError("no current container: call mtop.connect(), or mtop.container.set_current() / override()")
    return container


def set_current(container: Container | None) -> Container | None:
    """Make ``container`` the process-wide current container (all threads); return the previous one.

    >>> previous = set_current(Container())
    >>> _ = set_current(previous)
    """
    global _global
    with _global_lock:
        previous, _global = _global, container
    return previous


@contextlib.contextmanager
def override(bindings: Container | Mapping[Any, Any]) -> Iterator[Container]:
    """Make a container current inside a ``with`` block (this thread/task only); restore after.

    ``bindings`` is a container, or a mapping ``{iface: instance_or_class}`` turned into singletons
    of a child of the current container (or of a fresh one), so everything else still resolves.

    >>> with override({int: 5}) as c:
    ...     c.resolve(int)
    5
    """
    if isinstance(bindings, Container):
        container = bindings
    else:
        scoped = _override.get()
        parent = scoped if scoped is not None else _global
        container = Container(parent=parent)
        for iface, impl in bindings.items():
            container.register_singleton(iface, impl)
    token = _override.set(container)
    try:
        yield container
    finally:
        _override.reset(token)


class _Lazy:
    """A stand-in for ``inject(T)``: resolves ``T`` in the current container on first use."""

    __slots__ = ("__weakref__", "_mtop_iface", "_mtop_lock", "_mtop_resolved")

    def __init__(self, iface: Any) -> None:
        object.__setattr__(self, "_mtop_iface", iface)
        # One resolved object per container, so an override in a test does not see a stale one.
        object.__setattr__(self, "_mtop_resolved", weakref.WeakKeyDictionary())
        object.__setattr__(self, "_mtop_lock", threading.Lock())

    def _mtop_target(self) -> Any:
        container = current_container()
        resolved: weakref.WeakKeyDictionary[Container, Any] = self._mtop_resolved
        with self._mtop_lock:
            target = resolved.get(container, _MISSING)
        if target is _MISSING:
            target = container.resolve(self._mtop_iface)
            with self._mtop_lock:
                target = resolved.setdefault(container, target)
        return target

    def __getattr__(self, name: str) -> Any:
        return getattr(self._mtop_target(), name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._mtop_target(), name, value)

    def __delattr__(self, name: str) -> None:
        delattr(self._mtop_target(), name)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._mtop_target()(*args, **kwargs)

    def __repr__(self) -> str:
        # Never resolves: ``help()`` and signatures show defaults before any container exists.
        return f"inject({_name(self._mtop_iface)})"

    def __str__(self) -> str:
        return str(self._mtop_target())

    def __bool__(self) -> bool:
        return bool(self._mtop_target())

    def __len__(self) -> int:
        return len(self._mtop_target())

    def __iter__(self) -> Iterator[Any]:
        return iter(self._mtop_target())

    def __getitem__(self, key: Any) -> Any:
        return self._mtop_target()[key]

    def __contains__(self, item: Any) -> bool:
        return item in self._mtop_target()

    def __eq__(self, other: object) -> bool:
        return bool(self._mtop_target() == unwrap(other))

    def __hash__(self) -> int:
        return hash(self._mtop_target())

    def __enter__(self) -> Any:
        return self._mtop_target().__enter__()

    def __exit__(self, *exc: object) -> Any:
        return self._mtop_target().__exit__(*exc)


def inject(iface: Key[T]) -> T:
    """A lazy reference to ``iface``, resolved in the current container when first used.

    Use it as a default argument; it is typed as ``T`` for the type checker.

    >>> class Greeter:
    ...     def hello(self) -> str:
    ...         return "hello"
    >>> def greet(g: Greeter = inject(Greeter)) -> str:
    ...     return g.hello()
    >>> with override({Greeter: Greeter()}):
    ...     greet()
    'hello'
    """
    return cast(T, _Lazy(iface))


def unwrap(obj: T) -> T:
    """The object behind an ``inject`` reference (resolving it now); anything else unchanged.

    >>> with override({int: 3}):
    ...     unwrap(inject(int))
    3
    """
    if isinstance(obj, _Lazy):
        return cast(T, obj._mtop_target())
    return obj
