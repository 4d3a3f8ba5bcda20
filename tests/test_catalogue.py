from __future__ import annotations

import pytest

from mtop import catalogue
from mtop.errors import UnknownQueryError


def test_every_query_renders_with_defaults() -> None:
    for name in catalogue.CATALOGUE:
        promql = catalogue.render(name)
        assert "{" not in promql.replace('{finished_reason=~"abort|error"}', ""), (name, promql)


def test_quantile_and_window_are_substituted() -> None:
    promql = catalogue.render("ttft_quantile", {"q": 0.99, "window": "1m"})
    assert promql.startswith("histogram_quantile(0.99, ")
    assert "rate(vllm:time_to_first_token_seconds_bucket[1m])" in promql
    assert "sum by (namespace, service, le)" in promql


def test_renamed_metrics_fall_back_with_or() -> None:
    assert " or " in catalogue.render("itl_quantile")
    assert "vllm:time_per_output_token_seconds_bucket" in catalogue.render("itl_quantile")
    assert "vllm:gpu_cache_usage_perc" in catalogue.render("kv_cache_usage")
    epp = catalogue.render("epp_request_rate")
    for prefix in ("inference_objective_", "inference_model_", "llm_d_router_epp_", "llm_d_epp_"):
        assert prefix + "request_total" in epp


def test_error_rate_selects_abort_and_error() -> None:
    assert '{finished_reason=~"abort|error"}[5m]' in catalogue.render("error_request_rate")


def test_bad_params_are_named() -> None:
    with pytest.raises(ValueError, match="quantile"):
        catalogue.render("ttft_quantile", {"q": 1.5})
    with pytest.raises(ValueError, match="duration"):
        catalogue.render("request_rate", {"window": "five minutes"})
    with pytest.raises(ValueError, match="takes"):
        catalogue.render("queue_depth", {"window": "5m"})


def test_unknown_name_lists_known_ones() -> None:
    with pytest.raises(UnknownQueryError, match="ttft_quantile"):
        catalogue.render("nope")


@pytest.mark.parametrize(("text", "seconds"), [("30s", 30.0), ("5m", 300.0), ("1h", 3600.0), ("250ms", 0.25)])
def test_parse_duration(text: str, seconds: float) -> None:
    assert catalogue.parse_duration(text) == seconds
