"""The ``live`` section: every scalar key from its variable, checked values, and the password kept quiet."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mtop.config import LiveConfig, load_config
from mtop.errors import ConfigError


@pytest.mark.parametrize(
    ("variable", "text", "key", "value"),
    [
        ("MTOP_PROMETHEUS_URL", "https://prom.example/prometheus", "prometheus_url", "https://prom.example/prometheus"),
        ("MTOP_LIVE_PROMETHEUS_TOKEN_FILE", "/var/run/prom-token", "prometheus_token_file", "/var/run/prom-token"),
        ("MTOP_LIVE_PROMETHEUS_USERNAME", "bob", "prometheus_username", "bob"),
        ("MTOP_LIVE_PROMETHEUS_PASSWORD", "hunter2", "prometheus_password", "hunter2"),
        ("MTOP_LIVE_PROMETHEUS_CA", "/etc/ssl/prom-ca.pem", "prometheus_ca", "/etc/ssl/prom-ca.pem"),
        ("MTOP_LIVE_PROMETHEUS_TIMEOUT_SECONDS", "2.5", "prometheus_timeout_seconds", 2.5),
        ("MTOP_LIVE_KUBE_TIMEOUT_SECONDS", "7", "kube_timeout_seconds", 7.0),
        ("MTOP_LIVE_PAGE_SIZE", "250", "page_size", 250),
        ("MTOP_LIVE_RETRIES", "0", "retries", 0),
        ("MTOP_LIVE_RETRY_BACKOFF_SECONDS", "0.1", "retry_backoff_seconds", 0.1),
        ("MTOP_LIVE_CACHE_TTL_SECONDS", "60", "cache_ttl_seconds", 60.0),
        ("MTOP_LIVE_ALLOW_STALE", "yes", "allow_stale", True),
        ("LDCTL_LIVE_PAGE_SIZE", "100", "page_size", 100),  # the legacy prefix still works
    ],
)
def test_each_live_key_has_a_variable(variable: str, text: str, key: str, value: Any) -> None:
    cfg = load_config(env={variable: text})
    assert getattr(cfg.live, key) == value
    assert cfg.sources[f"live.{key}"] == variable


def test_defaults_match_the_packaged_file() -> None:
    live = load_config(env={}).live
    assert live == LiveConfig()
    assert (live.page_size, live.retries, live.allow_stale, live.contexts) == (500, 3, False, ())
    assert (live.pod_selectors, live.consistent_reads) == ((), False)  # every pod, once, from the watch cache


@pytest.mark.parametrize(
    ("variable", "text", "message"),
    [
        ("MTOP_LIVE_PAGE_SIZE", "0", "live.page_size: must be >= 1"),
        ("MTOP_LIVE_PAGE_SIZE", "many", "live.page_size: must be an integer"),
        ("MTOP_LIVE_RETRIES", "-1", "live.retries: must be >= 0"),
        ("MTOP_LIVE_PROMETHEUS_TIMEOUT_SECONDS", "0", "live.prometheus_timeout_seconds: must be > 0"),
        ("MTOP_LIVE_CACHE_TTL_SECONDS", "-5", "live.cache_ttl_seconds: must be >= 0"),
        ("MTOP_LIVE_ALLOW_STALE", "maybe", "live.allow_stale: must be a boolean"),
    ],
)
def test_bad_values_name_the_variable_and_key(variable: str, text: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(env={variable: text})
    assert str(info.value).startswith(f"{variable}: {message}")


def test_contexts_and_selectors_come_from_the_file(write_config: Any) -> None:
    path: Path = write_config("live:\n  contexts: [east, west]\n  pod_selectors: [app=vllm]\n")
    live = load_config(path, env={}).live
    assert (live.contexts, live.pod_selectors) == (("east", "west"), ("app=vllm",))
    with pytest.raises(ConfigError, match="must not repeat"):
        load_config(write_config("live:\n  contexts: [east, east]\n", name="dup.yaml"), env={})


def test_the_password_is_not_in_the_repr() -> None:
    cfg = load_config(env={"MTOP_LIVE_PROMETHEUS_PASSWORD": "hunter2"})
    assert "hunter2" not in repr(cfg.live) and "hunter2" not in repr(cfg)


def test_the_password_is_not_printed_by_config_output() -> None:
    from mtop.config import config_to_dict

    cfg = load_config(env={"MTOP_LIVE_PROMETHEUS_PASSWORD": "hunter2"})
    assert config_to_dict(cfg)["live"]["prometheus_password"] == "***"
    assert config_to_dict(cfg, redact=False)["live"]["prometheus_password"] == "hunter2"
