from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

import mtop
from mtop.config import Config
from mtop.container import inject, override
from mtop.context import connect, default_fleet, reset_default_fleet
from mtop.errors import MtopError
from mtop.interfaces import Source

START = datetime(2026, 11, 28, 12, tzinfo=UTC)


def test_mock_is_the_default() -> None:
    fleet = connect(env={}, clock="frozen", start=START)
    assert fleet.mode == "mock" and fleet.source.kind == "simulated"
    assert fleet.now() == START


@pytest.mark.parametrize("var", ["MTOP_MODE", "LLD_MODE"])
def test_mode_from_environment_reaches_connect(var: str) -> None:
    with pytest.raises(MtopError, match="live mode"):
        connect(env={var: "live"})


def test_explicit_mode_beats_environment() -> None:
    assert connect("mock", env={"MTOP_MODE": "live"}, clock="frozen").mode == "mock"


def test_unknown_mode_is_named() -> None:
    with pytest.raises(MtopError, match="'cloud'"):
        connect("cloud", env={})


def test_advance_moves_simulated_time() -> None:
    fleet = connect(env={}, clock="frozen", start=START)
    fleet.advance(timedelta(minutes=10))
    assert fleet.now() == START + timedelta(minutes=10)


def test_container_resolves_the_fleets_config_and_source() -> None:
    fleet = connect(env={}, clock="frozen", start=START)
    assert fleet.container.resolve(Config) is fleet.config
    assert fleet.container.resolve(Source) is fleet.source


def test_inject_sees_the_container_installed_later() -> None:
    def seed_of(source: Source = inject(Source)) -> str:
        return source.kind

    fleet = connect(env={}, clock="frozen", start=START)
    with override(fleet.container):
        assert seed_of() == "simulated"


def test_default_fleet_is_cached_and_resettable() -> None:
    reset_default_fleet()
    first = default_fleet()
    assert default_fleet() is first
    reset_default_fleet()
    assert default_fleet() is not first
    reset_default_fleet()


def test_collectors_work_with_no_argument() -> None:
    reset_default_fleet()
    try:
        df = mtop.services()
        assert len(df) >= 14
    finally:
        reset_default_fleet()
