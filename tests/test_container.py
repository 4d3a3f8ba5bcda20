from __future__ import annotations

import asyncio
import re
import sys
import textwrap
import threading
import typing
from typing import Optional

import pytest

import mtop.container as di
from mtop.container import (
    Binding,
    Container,
    current_container,
    factory,
    inject,
    install_bindings,
    override,
    set_current,
    singleton,
    transient,
    unwrap,
)
from mtop.errors import ContainerError, CycleError, UnregisteredError


@pytest.fixture(autouse=True)
def isolated(monkeypatch: pytest.MonkeyPatch) -> list[Binding]:
    """Each test gets its own pending-binding list and no process-wide container."""
    pending: list[Binding] = []
    monkeypatch.setattr(di, "_PENDING", pending)
    monkeypatch.setattr(di, "_global", None)
    return pending


# Module-level classes: their (string) annotations are resolved with typing.get_type_hints.


class Clock:
    def now(self) -> float:
        return 0.0


class FixedClock(Clock):
    def now(self) -> float:
        return 42.0


class Repo:
    def __init__(self, clock: Clock) -> None:
        self.clock = clock


class Service:
    def __init__(self, repo: Repo, clock: Optional[Clock] = None, retries: int = 3, *args: int, **kw: int) -> None:  # noqa: UP045
        self.repo, self.clock, self.retries = repo, clock, retries


class NeedsLater:
    def __init__(self, later: DefinedLater) -> None:  # forward reference, resolved lazily
        self.later = later


class DefinedLater:
    pass


class OptionalNoDefault:
    def __init__(self, clock: Clock | None) -> None:
        self.clock = clock


class NeedsName:
    def __init__(self, name: str) -> None:
        self.name = name


class CycleA:
    def __init__(self, b: CycleB) -> None:
        self.b = b


class CycleB:
    def __init__(self, a: CycleA) -> None:
        self.a = a


class Doubler:
    def __call__(self, x: int) -> int:
        return 2 * x


class Counting:
    built = 0

    def __init__(self) -> None:
        type(self).built += 1


GUIDE_EXAMPLE = """
from mtop.container import inject, singleton
from mtop.interfaces import Logger

@singleton(Logger)
class MyLogger:
    def info(self, message: str) -> None:
        print(message)

# Automatic injection
def my_function(logger: Logger = inject(Logger)) -> None:
    logger.info("Hello, World!")
"""


def test_guide_example_verbatim_prints_after_a_container_is_current(capsys: pytest.CaptureFixture[str]) -> None:
    namespace: dict[str, typing.Any] = {}
    exec(textwrap.dedent(GUIDE_EXAMPLE), namespace)  # definition time: no container exists yet
    with override(install_bindings(Container())):
        namespace["my_function"]()
    assert capsys.readouterr().out == "Hello, World!\n"
    # The same default reference also works through the process-wide container.
    set_current(install_bindings(Container()))
    namespace["my_function"]()
    assert capsys.readouterr().out == "Hello, World!\n"


def test_decorators_only_record(isolated: list[Binding]) -> None:
    before = Counting.built
    decorated = singleton(Clock)(Counting)
    transient(Repo)(Repo)

    @factory(str, singleton=True)
    def make_name() -> str:
        return "n"

    assert decorated is Counting
    assert Counting.built == before  # nothing instantiated
    assert [(b.iface, b.target, b.lifetime, b.cache) for b in isolated] == [
        (Clock, Counting, "singleton", False),
        (Repo, Repo, "transient", False),
        (str, make_name, "factory", True),
    ]
    with pytest.raises(ContainerError, match="no current container"):
        current_container()  # and nothing was installed anywhere


def test_install_bindings_copies_recorded_bindings_into_a_fresh_container() -> None:
    singleton(Clock)(FixedClock)
    transient(Repo)(Repo)
    c = install_bindings(Container())
    repo = c.resolve(Repo)
    assert isinstance(repo.clock, FixedClock)
    assert repo.clock is c.resolve(Clock)
    assert c.resolve(Repo) is not repo
    assert install_bindings(Container()).resolve(Clock) is not repo.clock  # each container its own singleton


def test_install_bindings_refuses_two_implementations_of_one_interface() -> None:
    singleton(Clock)(Clock)
    singleton(Clock)(FixedClock)
    with pytest.raises(ContainerError, match=r"Clock: .*test_container\.Clock and .*test_container\.FixedClock"):
        install_bindings(Container())


def test_install_bindings_accepts_the_same_class_recorded_twice_as_after_a_reload() -> None:
    singleton(Clock)(FixedClock)
    singleton(Clock)(FixedClock)
    assert isinstance(install_bindings(Container()).resolve(Clock), FixedClock)


def test_lifetimes() -> None:
    c = Container()
    c.register_singleton(Clock, FixedClock)
    c.register_transient(Repo)
    calls: list[int] = []

    def make_service(repo: Repo) -> Service:
        calls.append(1)
        return Service(repo)

    c.register_factory(Service, make_service)
    assert c.resolve(Clock) is c.resolve(Clock)
    assert c.resolve(Repo) is not c.resolve(Repo)
    assert c.resolve(Service) is not c.resolve(Service)
    assert len(calls) == 2
    c.register_factory(Service, make_service, singleton=True)
    assert c.resolve(Service) is c.resolve(Service)
    assert len(calls) == 3
    instance = Clock()
    c.register_singleton(Clock, instance)
    assert c.get(Clock) is instance  # re-registration replaces, and drops the cached singleton


def test_constructor_parameters_by_annotation_optional_and_defaults() -> None:
    c = Container()
    c.register_singleton(Clock)
    c.register_singleton(Repo)
    c.register_transient(Service)
    s = c.resolve(Service)
    assert s.repo is c.resolve(Repo)
    assert s.clock is c.resolve(Clock)  # Optional[Clock] unwrapped and resolved
    assert s.retries == 3  # int is not registered: the default stays
    c.register_singleton(int, 9)
    assert c.resolve(Service).retries == 9  # registered: resolved even though it has a default


def test_optional_without_default_gets_none_when_unregistered() -> None:
    c = Container()
    c.register_transient(OptionalNoDefault)
    assert c.resolve(OptionalNoDefault).clock is None
    c.register_singleton(Clock)
    assert isinstance(c.resolve(OptionalNoDefault).clock, Clock)


def test_string_forward_reference_annotation() -> None:
    c = Container()
    c.register_transient(NeedsLater)
    c.register_singleton(DefinedLater)
    assert isinstance(c.resolve(NeedsLater).later, DefinedLater)


def test_unregistered_error_names_type_chain_and_registrations() -> None:
    c = Container()
    c.register_singleton(Clock)
    with pytest.raises(UnregisteredError) as info:
        c.resolve(Repo)
    mod = Repo.__module__.replace(".", r"\.")
    assert re.fullmatch(rf"no binding for {mod}\.Repo; registered: {mod}\.Clock", str(info.value))
    assert isinstance(info.value, LookupError)

    c.register_transient(NeedsName)
    with pytest.raises(UnregisteredError, match=r"NeedsName needs parameter 'name: str', but str is not registered"):
        c.resolve(NeedsName)


def test_unregistered_dependency_message_shows_who_needed_it() -> None:
    c = Container()
    c.register_transient(Repo)
    c.register_transient(NeedsLater)
    with pytest.raises(UnregisteredError) as info:
        c.resolve(Repo)
    message = str(info.value)
    assert "Repo needs parameter 'clock: " in message
    assert "Clock is not registered" in message
    assert "registered: " in message and "NeedsLater" in message and "Repo" in message


def test_cycle_error_shows_the_chain_and_leaves_the_container_usable() -> None:
    c = Container()
    c.register_singleton(CycleA)
    c.register_transient(CycleB)
    with pytest.raises(CycleError) as info:
        c.resolve(CycleA)
    names = [part.rsplit(".", 1)[-1] for part in str(info.value).split(": ", 1)[1].split(" -> ")]
    assert names == ["CycleA", "CycleB", "CycleA"]
    c.register_singleton(Clock)
    assert isinstance(c.resolve(Clock), Clock)  # the resolution chain was unwound


def test_factory_that_resolves_itself_is_a_cycle_not_a_recursion_error() -> None:
    c = Container()
    c.register_factory(Clock, _self_resolving)
    with pytest.raises(CycleError, match=r"Clock -> .*Clock"):
        c.resolve(Clock)


def _self_resolving(container: Container) -> Clock:
    return container.resolve(Clock)


def test_resolve_container_returns_itself() -> None:
    c = Container()
    assert c.resolve(Container) is c


def test_child_container_falls_back_and_overrides_reach_transients() -> None:
    parent = Container()
    parent.register_singleton(Clock)
    parent.register_transient(Repo)
    child = parent.child()
    child.register_singleton(Clock, FixedClock)
    assert isinstance(parent.resolve(Repo).clock, Clock) and not isinstance(parent.resolve(Repo).clock, FixedClock)
    assert isinstance(child.resolve(Repo).clock, FixedClock)  # the parent's transient built with the child's Clock
    assert f"{Repo.__module__}.Repo" in child.registered()


@pytest.fixture
def fast_switching() -> typing.Iterator[None]:
    """A tiny GIL switch interval, so threads interleave inside a constructor unless a lock stops them."""
    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        yield
    finally:
        sys.setswitchinterval(previous)


@pytest.mark.usefixtures("fast_switching")
@pytest.mark.parametrize("round_", range(5))
def test_singleton_is_built_once_under_concurrency(round_: int) -> None:
    built: list[int] = []

    class Slowish:
        def __init__(self) -> None:
            built.append(1)
            for _ in range(20_000):  # Python bytecode (a C call like sum() would hold the GIL): others may enter
                pass

    c = Container()
    c.register_singleton(Slowish)
    barrier = threading.Barrier(8)
    results: list[object] = []

    def worker() -> None:
        barrier.wait()
        results.append(c.resolve(Slowish))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    assert len(built) == 1
    assert len(results) == 8 and all(r is results[0] for r in results)


def test_concurrent_nested_singletons_do_not_deadlock() -> None:
    c = Container()
    c.register_singleton(Clock)
    c.register_singleton(Repo)
    c.register_singleton(Service)
    barrier = threading.Barrier(6)
    seen: list[object] = []

    def worker(iface: type) -> None:
        barrier.wait()
        seen.append(c.resolve(iface))

    threads = [threading.Thread(target=worker, args=(t,)) for t in (Service, Repo, Clock) * 2]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    assert not any(t.is_alive() for t in threads)
    service = c.resolve(Service)
    assert service.repo is c.resolve(Repo) and service.repo.clock is c.resolve(Clock)
    assert len(seen) == 6


def _uses_clock(clock: Clock = inject(Clock)) -> float:
    return clock.now()


def test_inject_default_is_lazy_and_follows_the_current_container() -> None:
    # _uses_clock's default was evaluated at import, before any container existed.
    with pytest.raises(ContainerError, match="no current container"):
        _uses_clock()
    one, two = Container(), Container()
    one.register_singleton(Clock)
    two.register_singleton(Clock, FixedClock)
    with override(one):
        assert _uses_clock() == 0.0
        with override(two):
            assert _uses_clock() == 42.0  # not a stale object from the outer container
        assert _uses_clock() == 0.0


def test_inject_resolves_once_per_container() -> None:
    ref = inject(Repo)
    c = Container()
    c.register_singleton(Clock)
    c.register_transient(Repo)
    with override(c):
        first = unwrap(ref)
        assert unwrap(ref) is first  # a transient is still one object behind one reference
        assert ref.clock is first.clock
        ref.extra = 1  # type: ignore[attr-defined]
        assert first.extra == 1  # type: ignore[attr-defined]


def test_inject_repr_does_not_resolve() -> None:
    assert repr(inject(Clock)) == f"inject({Clock.__module__}.Clock)"


def test_inject_is_typed_and_forwards_calls_and_dunders() -> None:
    with override({list: [1, 2, 3], Clock: FixedClock()}):
        numbers = inject(list)
        assert len(numbers) == 3 and list(numbers) == [1, 2, 3] and numbers[0] == 1 and 2 in numbers
        assert numbers == [1, 2, 3]
        assert isinstance(unwrap(inject(Clock)), FixedClock)
    with override({Doubler: Doubler()}):
        assert inject(Doubler)(21) == 42


def test_unwrap_leaves_other_objects_alone() -> None:
    obj = object()
    assert unwrap(obj) is obj


def test_override_with_mapping_falls_back_to_the_current_container_and_restores() -> None:
    base = Container()
    base.register_singleton(Clock)
    base.register_transient(Repo)
    previous = set_current(base)
    assert previous is None
    fake = FixedClock()
    with override({Clock: fake}) as scoped:
        assert current_container() is scoped
        assert scoped.resolve(Repo).clock is fake
    assert current_container() is base
    assert isinstance(current_container().resolve(Repo).clock, Clock)


def test_override_is_restored_after_an_exception() -> None:
    base = Container()
    set_current(base)
    with pytest.raises(RuntimeError), override(Container()):
        raise RuntimeError("boom")
    assert current_container() is base


def test_override_does_not_leak_to_other_threads_but_set_current_does() -> None:
    base, scoped = Container(), Container()
    set_current(base)
    inside = threading.Event()
    done = threading.Event()
    seen: list[Container] = []

    def other() -> None:
        inside.wait(timeout=10)
        seen.append(current_container())
        done.set()

    thread = threading.Thread(target=other)
    thread.start()
    with override(scoped):
        inside.set()
        done.wait(timeout=10)
        assert current_container() is scoped
    thread.join(timeout=10)
    assert seen == [base]


async def test_override_in_one_task_does_not_leak_to_a_sibling_task() -> None:
    base, scoped = Container(), Container()
    set_current(base)
    entered = asyncio.Event()
    checked = asyncio.Event()

    async def overriding() -> Container:
        with override(scoped):
            entered.set()
            await checked.wait()
            return current_container()

    async def observing() -> Container:
        await entered.wait()
        try:
            return current_container()
        finally:
            checked.set()

    in_scope, sibling = await asyncio.gather(overriding(), observing())
    assert in_scope is scoped
    assert sibling is base
