"""mtop.config: defaults, precedence, every documented variable, error messages, cache, provider."""

from __future__ import annotations

import dataclasses
import os
import pickle
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from mtop.config import (
    ColumnConfig,
    Config,
    FileConfigProvider,
    GPUType,
    LiveConfig,
    SLOConfig,
    Threshold,
    WorkloadConfig,
    clear_cache,
    config_to_dict,
    config_warnings,
    default_config,
    env_variables,
    explain,
    get_setting,
    load_config,
)
from mtop.errors import ConfigError
from mtop.interfaces import ConfigProvider
from mtop.schema import FRAMES

WriteConfig = Callable[..., Path]


@pytest.fixture(autouse=True)
def _elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # No ./config.yaml unless a test writes one: the repo root has the packaged copy.
    monkeypatch.chdir(tmp_path)


# --- packaged defaults --------------------------------------------------------------------------------------


def test_seed_defaults_from_the_architecture_guide() -> None:
    cfg = default_config()
    assert (cfg.slo.ttft_p95_ms, cfg.slo.error_rate_percent, cfg.slo.tokens_per_second) == (500, 0.1, 1000)
    assert (cfg.workload.baseline_qps, cfg.workload.spike_multiplier) == (100, 2.0)
    a100, h100 = cfg.technology.gpu_types["nvidia-a100"], cfg.technology.gpu_types["nvidia-h100"]
    assert (a100.memory_gb, a100.hourly_cost, h100.memory_gb, h100.hourly_cost) == (80, 3.00, 80, 5.00)
    assert a100.price_source == h100.price_source == "architecture guide default"
    assert cfg.mode == "mock"
    assert cfg.live == LiveConfig()
    assert cfg.display.sorting.default_key == "cost"


def test_other_gpu_prices_come_from_domain_6_1() -> None:
    types = default_config().technology.gpu_types
    prices = {key: t.hourly_cost for key, t in types.items()}
    assert prices == {
        "nvidia-a100": 3.00,
        "nvidia-a100-40gb": 1.844,  # AWS Capacity Blocks p4d
        "nvidia-h100": 5.00,
        "nvidia-h200": 5.408,  # AWS Capacity Blocks p5e
        "nvidia-b200": pytest.approx(5.00 * 7.00 / 4.00),  # synthetic table's B200/H100 ratio on the H100 price
        "nvidia-l40s": 1.861,  # g6e.xlarge
        "nvidia-l4": 0.805,  # g6.xlarge
        "nvidia-a10g": 1.006,  # g5.xlarge
        "amd-mi300x": 1.99,  # median of public on-demand prices
    }
    assert "ratio" in types["nvidia-b200"].price_source
    for key, gpu in types.items():
        assert gpu.price_source.strip() and gpu.throughput_source.strip(), key
        assert gpu.vendor == key.split("-")[0] and gpu.family, key
    assert types["nvidia-h100"].relative_throughput == 1.0
    assert types["nvidia-b200"].relative_throughput > types["nvidia-h200"].relative_throughput > 1.0


def test_display_columns_name_overview_columns() -> None:
    overview = set(FRAMES["overview"].columns)
    display = default_config().display
    assert {c.field for c in display.columns} <= overview
    sort_keys = {c.sort_key for c in display.sortable_columns()}
    assert set(display.sorting.available_keys) == sort_keys  # every offered key sorts some column
    assert {"gpu", "cost", "ttft"} <= sort_keys


def test_ttft_thresholds_follow_the_slo() -> None:
    ttft = next(c for c in default_config().display.columns if c.field == "ttft_p95_ms")
    assert [ttft.color_for(v) for v in (120.0, 500.0, 501.0, 1000.0, 1000.5)] == [
        "green",
        "green",
        "yellow",
        "yellow",
        "red",
    ]
    assert ttft.color_for(float("nan")) is None


def test_packaged_file_documents_every_key() -> None:
    text = (Path(__file__).resolve().parents[1] / "config.yaml").read_text()
    # Column and GPU type keys are described once each, in the legend above their list/mapping ...
    column_legend = text[text.index("\ndisplay:") : text.index("  columns:")]
    gpu_legend = text[text.index("\ntechnology:") : text.index("  gpu_types:")]
    column_fields = {f.name for f in dataclasses.fields(ColumnConfig)}
    gpu_fields = {f.name for f in dataclasses.fields(GPUType)}
    for name in column_fields:
        assert name in column_legend, name
    for name in gpu_fields:
        assert name in gpu_legend, name
    # ... and every other key line has a comment on it or just above it.
    lines = text.splitlines()
    undocumented = [
        line.strip()
        for i, line in enumerate(lines)
        if line.strip()[:1].isalpha()
        and ":" in line
        and line.strip().split(":")[0] not in gpu_fields | column_fields
        and "#" not in line
        and not lines[i - 1].strip().startswith("#")
    ]
    assert undocumented == []


# --- GPU matching ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("product", "expected"),
    [
        ("NVIDIA-H100-80GB-HBM3", "nvidia-h100"),
        ("NVIDIA-H100-NVL", "nvidia-h100"),
        ("NVIDIA-H100-80GB-HBM3-SHARED", "nvidia-h100"),
        ("NVIDIA-H200", "nvidia-h200"),
        ("NVIDIA-A100-SXM4-80GB", "nvidia-a100"),
        ("NVIDIA-A100-80GB-PCIe", "nvidia-a100"),
        ("NVIDIA-A100-SXM4-40GB", "nvidia-a100-40gb"),
        ("A100-SXM4-40GB-MIG-1g.5gb", "nvidia-a100-40gb"),
        ("NVIDIA-L40S", "nvidia-l40s"),
        ("NVIDIA-L4", "nvidia-l4"),
        ("nvidia-l4", "nvidia-l4"),
        ("NVIDIA-A10G", "nvidia-a10g"),
        ("NVIDIA-B200", "nvidia-b200"),
        ("AMD-Instinct-MI300X", "amd-mi300x"),
        ("Tesla-T4", None),
        ("NVIDIA-L40", None),
    ],
)
def test_match_product(product: str, expected: str | None) -> None:
    assert default_config().technology.match_product(product) == expected


@pytest.mark.parametrize(
    ("model_name", "expected"),
    [
        ("NVIDIA H100 80GB HBM3", "nvidia-h100"),
        ("NVIDIA H200", "nvidia-h200"),
        ("NVIDIA A100-SXM4-80GB", "nvidia-a100"),
        ("NVIDIA A100-SXM4-40GB", "nvidia-a100-40gb"),
        ("NVIDIA L40S", "nvidia-l40s"),
        ("NVIDIA L4", "nvidia-l4"),
        ("NVIDIA A10G", "nvidia-a10g"),
        ("AMD Instinct MI300X", "amd-mi300x"),
        ("Tesla T4", None),
    ],
)
def test_match_dcgm(model_name: str, expected: str | None) -> None:
    assert default_config().technology.match_dcgm(model_name) == expected


def test_first_matching_type_wins() -> None:
    cfg = load_config(
        env={},
        overrides={"technology.gpu_types": {"acme-any": {"memory_gb": 1, "hourly_cost": 0, "product_patterns": ["*"]}}},
    )
    # acme-any is added after the packaged types, so it only catches what they do not.
    assert cfg.technology.match_product("NVIDIA-H100-80GB-HBM3") == "nvidia-h100"
    assert cfg.technology.match_product("Tesla-T4") == "acme-any"


# --- environment variables: one case per documented name ---------------------------------------------------

GPU_TYPES = [
    ("A100", "nvidia-a100"),
    ("A100_40GB", "nvidia-a100-40gb"),
    ("H100", "nvidia-h100"),
    ("H200", "nvidia-h200"),
    ("B200", "nvidia-b200"),
    ("L40S", "nvidia-l40s"),
    ("L4", "nvidia-l4"),
    ("A10G", "nvidia-a10g"),
    ("MI300X", "amd-mi300x"),
]

ENV_CASES = [
    ("MTOP_SLO_TTFT_P95_MS", "300", "slo.ttft_p95_ms", 300.0),
    ("MTOP_SLO_ERROR_RATE_PERCENT", "0.05", "slo.error_rate_percent", 0.05),
    ("MTOP_SLO_TOKENS_PER_SECOND", "1500", "slo.tokens_per_second", 1500.0),
    ("MTOP_WORKLOAD_BASELINE_QPS", "500", "workload.baseline_qps", 500.0),
    ("MTOP_WORKLOAD_SPIKE_MULTIPLIER", "3.0", "workload.spike_multiplier", 3.0),
    *[
        (f"MTOP_TECHNOLOGY_GPU_{t}_COST", "7.25", f"technology.gpu_types.{key}.hourly_cost", 7.25)
        for t, key in GPU_TYPES
    ],
    *[(f"MTOP_TECHNOLOGY_GPU_{t}_MEMORY", "96", f"technology.gpu_types.{key}.memory_gb", 96.0) for t, key in GPU_TYPES],
    ("MTOP_COLOR_ENABLED", "false", "display.color_enabled", False),
    ("MTOP_MAX_WIDTH", "120", "display.max_width", 120),
    ("MTOP_SORT_KEY", "gpu", "display.sorting.default_key", "gpu"),
    ("MTOP_MODE", "live", "mode", "live"),
    ("LLD_MODE", "live", "mode", "live"),
    ("MTOP_PROMETHEUS_URL", "http://127.0.0.1:9090", "live.prometheus_url", "http://127.0.0.1:9090"),
    ("NO_COLOR", "1", "display.color_enabled", False),
    # the generic MTOP_<SECTION>_<KEY> rule
    ("MTOP_BUILD_PROGRAM_NAME", "fleettop", "build.program.name", "fleettop"),
    ("MTOP_DISPLAY_SUMMARY_SHOW_MODE", "off", "display.summary.show_mode", False),
    ("MTOP_LIVE_NAMESPACE", "prod", "live.namespace", "prod"),
    ("MTOP_LIVE_CONTEXT", "kind-mtop", "live.context", "kind-mtop"),
    ("MTOP_DISPLAY_SORTING_DEFAULT_KEY", "ttft", "display.sorting.default_key", "ttft"),
    (
        "MTOP_TECHNOLOGY_GPU_TYPES_NVIDIA_H100_RELATIVE_THROUGHPUT",
        "1.1",
        "technology.gpu_types.nvidia-h100.relative_throughput",
        1.1,
    ),
    # legacy LDCTL_* aliases
    ("LDCTL_SLO_TTFT_P95_MS", "250", "slo.ttft_p95_ms", 250.0),
    ("LDCTL_TECHNOLOGY_GPU_A100_COST", "2.5", "technology.gpu_types.nvidia-a100.hourly_cost", 2.5),
]


@pytest.mark.parametrize(("var", "text", "key", "expected"), ENV_CASES, ids=[c[0] for c in ENV_CASES])
def test_each_variable_changes_its_key(var: str, text: str, key: str, expected: Any) -> None:
    assert get_setting(default_config(), key) != expected  # so the assertion below can fail
    cfg = load_config(env={var: text})
    assert get_setting(cfg, key) == expected
    assert cfg.sources == {key: var}


def test_every_documented_variable_is_listed() -> None:
    names = env_variables()
    for var, _text, key, _expected in ENV_CASES:
        assert names[var] == key


def test_guide_example_block() -> None:
    # The architecture guide's "Environment Variable Overrides" block, all at once.
    env = {
        "MTOP_SLO_TTFT_P95_MS": "300",
        "MTOP_SLO_ERROR_RATE_PERCENT": "0.05",
        "MTOP_SLO_TOKENS_PER_SECOND": "1500",
        "MTOP_WORKLOAD_BASELINE_QPS": "500",
        "MTOP_WORKLOAD_SPIKE_MULTIPLIER": "3.0",
        "MTOP_TECHNOLOGY_GPU_A100_COST": "2.50",
        "MTOP_TECHNOLOGY_GPU_H100_MEMORY": "96",
        "MTOP_COLOR_ENABLED": "true",
        "MTOP_MAX_WIDTH": "120",
        "MTOP_SORT_KEY": "gpu",
        "LLD_MODE": "live",
    }
    cfg = load_config(env=env)
    assert cfg.slo == SLOConfig(300, 0.05, 1500)
    assert cfg.workload == WorkloadConfig(500, 3.0)
    assert cfg.technology.gpu_types["nvidia-a100"].hourly_cost == 2.5
    assert cfg.technology.gpu_types["nvidia-h100"].memory_gb == 96
    assert (cfg.display.color_enabled, cfg.display.max_width, cfg.display.sorting.default_key) == (True, 120, "gpu")
    assert cfg.mode == "live"


def test_mtop_mode_beats_lld_mode() -> None:
    assert load_config(env={"MTOP_MODE": "mock", "LLD_MODE": "live"}).mode == "mock"
    assert load_config(env={"MTOP_MODE": "mock", "LLD_MODE": "live"}).sources["mode"] == "MTOP_MODE"


def test_mtop_beats_ldctl() -> None:
    cfg = load_config(env={"MTOP_SLO_TTFT_P95_MS": "300", "LDCTL_SLO_TTFT_P95_MS": "250"})
    assert cfg.slo.ttft_p95_ms == 300


def test_short_name_beats_generic_name() -> None:
    cfg = load_config(env={"MTOP_SORT_KEY": "gpu", "MTOP_DISPLAY_SORTING_DEFAULT_KEY": "ttft"})
    assert cfg.display.sorting.default_key == "gpu"


def test_no_color_yields_to_mtop_color_enabled() -> None:
    assert load_config(env={"NO_COLOR": "1", "MTOP_COLOR_ENABLED": "true"}).display.color_enabled is True
    assert load_config(env={"NO_COLOR": ""}).display.color_enabled is True  # empty means unset


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("true", True),
        ("TRUE", True),
        ("1", True),
        ("yes", True),
        ("on", True),
        ("false", False),
        ("0", False),
        ("no", False),
        ("Off", False),
    ],
)
def test_boolean_words(word: str, expected: bool) -> None:
    assert load_config(env={"MTOP_DISPLAY_SUMMARY_SHOW_RUNTIME": word}).display.summary.show_runtime is expected


def test_empty_and_unrelated_variables_are_ignored() -> None:
    cfg = load_config(env={"MTOP_SLO_TTFT_P95_MS": "", "MTOP_LOG_LEVEL": "DEBUG", "MTOP_NO_SUCH": "x"})
    assert cfg == default_config()
    assert cfg.sources == {}


def test_config_path_variables(write_config: WriteConfig) -> None:
    mtop_file = write_config("slo:\n  ttft_p95_ms: 111\n", "mtop.yaml")
    ldctl_file = write_config("slo:\n  ttft_p95_ms: 222\n", "ldctl.yaml")
    arg_file = write_config("slo:\n  ttft_p95_ms: 333\n", "arg.yaml")
    assert load_config(env={"LDCTL_CONFIG_PATH": str(ldctl_file)}).slo.ttft_p95_ms == 222
    assert load_config(env={"MTOP_CONFIG_PATH": str(mtop_file)}).slo.ttft_p95_ms == 111
    both = {"MTOP_CONFIG_PATH": str(mtop_file), "LDCTL_CONFIG_PATH": str(ldctl_file)}
    assert load_config(env=both).slo.ttft_p95_ms == 111
    assert load_config(arg_file, env=both).slo.ttft_p95_ms == 333


def test_local_config_yaml_is_the_last_resort(write_config: WriteConfig) -> None:
    write_config("workload:\n  baseline_qps: 42\n", "config.yaml")  # in the current directory
    cfg = load_config(env={})
    assert cfg.workload.baseline_qps == 42
    assert cfg.sources["workload.baseline_qps"] == f"{Path('config.yaml').resolve()}, line 2"


def test_env_defaults_to_os_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MTOP_SLO_TOKENS_PER_SECOND", "1234")
    assert load_config().slo.tokens_per_second == 1234
    assert "MTOP_SLO_TOKENS_PER_SECOND" not in load_config(env={}).sources.values()


# --- precedence ---------------------------------------------------------------------------------------------


def test_user_file_merges_key_by_key(write_config: WriteConfig) -> None:
    path = write_config("# mine\nslo:\n  ttft_p95_ms: 300\n")
    cfg = load_config(path, env={})
    assert cfg.slo.ttft_p95_ms == 300
    expected = config_to_dict(default_config())
    expected["slo"]["ttft_p95_ms"] = 300.0
    assert config_to_dict(cfg) == expected  # everything else is still the default
    assert cfg.sources == {"slo.ttft_p95_ms": f"{path}, line 3"}


def test_gpu_types_merge_and_lists_replace(write_config: WriteConfig) -> None:
    path = write_config(
        "technology:\n  gpu_types:\n    nvidia-h100:\n      hourly_cost: 4.0\n"
        "display:\n  sorting:\n    available_keys: [cost, gpu]\n"
    )
    cfg = load_config(path, env={})
    h100 = cfg.technology.gpu_types["nvidia-h100"]
    assert h100.hourly_cost == 4.0
    assert dataclasses.replace(h100, hourly_cost=5.0) == default_config().technology.gpu_types["nvidia-h100"]
    assert list(cfg.technology.gpu_types) == list(default_config().technology.gpu_types)
    assert cfg.display.sorting.available_keys == ("cost", "gpu")


def test_a_user_gpu_type_gets_its_variables(write_config: WriteConfig) -> None:
    path = write_config(
        "technology:\n  gpu_types:\n    acme-x1-64gb:\n      memory_gb: 64\n      hourly_cost: 1.5\n"
        "      product_patterns: [ACME-X1*]\n"
    )
    cfg = load_config(path, env={"MTOP_TECHNOLOGY_GPU_X1_64GB_COST": "1.25"})
    assert cfg.technology.gpu_types["acme-x1-64gb"].hourly_cost == 1.25
    assert cfg.technology.match_product("ACME-X1-64G") == "acme-x1-64gb"


def test_env_beats_file_and_argument_beats_env(write_config: WriteConfig) -> None:
    path = write_config("slo:\n  ttft_p95_ms: 300\n  tokens_per_second: 900\n")
    env = {"MTOP_SLO_TTFT_P95_MS": "400", "MTOP_SLO_ERROR_RATE_PERCENT": "0.5"}
    cfg = load_config(path, env=env, overrides={"slo.error_rate_percent": 1.5})
    assert (cfg.slo.ttft_p95_ms, cfg.slo.error_rate_percent, cfg.slo.tokens_per_second) == (400, 1.5, 900)
    assert explain(cfg) == {
        "slo.ttft_p95_ms": "MTOP_SLO_TTFT_P95_MS",
        "slo.error_rate_percent": "argument",
        "slo.tokens_per_second": f"{path}, line 3",
    }


def test_overrides_mapping_keywords_and_none() -> None:
    cfg = load_config(env={}, overrides={"mode": "live", "slo.ttft_p95_ms": "250"}, **{"workload.baseline_qps": None})
    assert (cfg.mode, cfg.slo.ttft_p95_ms, cfg.workload.baseline_qps) == ("live", 250.0, 100.0)
    assert "workload.baseline_qps" not in cfg.sources  # None means "not given"


def test_sources_list_only_what_differs_or_was_set_explicitly(write_config: WriteConfig) -> None:
    path = write_config("slo:\n  ttft_p95_ms: 500\n  tokens_per_second: 999\n")  # 500 is the default
    cfg = load_config(path, env={"MTOP_WORKLOAD_BASELINE_QPS": "100"})  # also the default, but explicit
    assert cfg.sources == {
        "slo.tokens_per_second": f"{path}, line 3",
        "workload.baseline_qps": "MTOP_WORKLOAD_BASELINE_QPS",
    }


def test_the_printed_config_is_a_valid_config_file(write_config: WriteConfig) -> None:
    cfg = load_config(env={"MTOP_SORT_KEY": "ttft", "MTOP_TECHNOLOGY_GPU_L4_COST": "0.7"})
    path = write_config(yaml.safe_dump(config_to_dict(cfg), sort_keys=False, allow_unicode=True))
    again = load_config(path, env={})
    assert again == cfg
    assert set(again.sources) == {"display.sorting.default_key", "technology.gpu_types.nvidia-l4.hourly_cost"}


def test_empty_file_and_empty_section_change_nothing(write_config: WriteConfig) -> None:
    assert load_config(write_config(""), env={}) == default_config()
    assert load_config(write_config("slo:\n# ttft_p95_ms: 300\n", "b.yaml"), env={}) == default_config()


# --- bad input: every message names its culprit ---------------------------------------------------------------


def _error(path: Path | None = None, env: dict[str, str] | None = None, overrides: dict[str, Any] | None = None) -> str:
    with pytest.raises(ConfigError) as info:
        load_config(path, env=env or {}, overrides=overrides)
    return str(info.value)


def test_malformed_yaml_names_file_and_line(write_config: WriteConfig) -> None:
    path = write_config("slo:\n  ttft_p95_ms: 300\n error_rate_percent: 1\n")
    message = _error(path)
    assert message.startswith(f"{path}, line 3: malformed YAML")


def test_wrong_type_names_file_line_and_key(write_config: WriteConfig) -> None:
    path = write_config("mode: mock\nslo:\n  ttft_p95_ms: fast\n")
    assert _error(path) == f"{path}, line 3: slo.ttft_p95_ms: must be a number, got 'fast'"


def test_list_for_a_mapping(write_config: WriteConfig) -> None:
    path = write_config("slo: [1, 2]\n")
    assert _error(path) == f"{path}, line 1: slo: must be a mapping, got a list"


def test_bool_is_not_a_number(write_config: WriteConfig) -> None:
    path = write_config("workload:\n  baseline_qps: yes\n")
    assert _error(path) == f"{path}, line 2: workload.baseline_qps: must be a number, got true"


def test_negative_price_in_file_and_env(write_config: WriteConfig) -> None:
    path = write_config("technology:\n  gpu_types:\n    nvidia-h100:\n      hourly_cost: -1\n")
    assert _error(path) == f"{path}, line 4: technology.gpu_types.nvidia-h100.hourly_cost: must be >= 0, got -1"
    message = _error(env={"MTOP_TECHNOLOGY_GPU_H100_COST": "-2"})
    assert message.startswith("MTOP_TECHNOLOGY_GPU_H100_COST: technology.gpu_types.nvidia-h100.hourly_cost:")


def test_error_rate_above_100(write_config: WriteConfig) -> None:
    path = write_config("slo:\n  error_rate_percent: 150\n")
    assert _error(path) == f"{path}, line 2: slo.error_rate_percent: must be between 0 and 100, got 150"


def test_unknown_sort_key(write_config: WriteConfig) -> None:
    message = _error(env={"MTOP_SORT_KEY": "qps"})
    assert message.startswith("MTOP_SORT_KEY: display.sorting.default_key: unknown sort key 'qps'")
    # In available_keys, but no sortable column has it:
    path = write_config("display:\n  sorting:\n    default_key: qps\n    available_keys: [qps, cost]\n")
    assert _error(path).startswith(f"{path}, line 3: display.sorting.default_key: unknown sort key 'qps': no sortable")


def test_unknown_key_anywhere_in_a_file(write_config: WriteConfig) -> None:
    path = write_config("display:\n  summary:\n    show_clock: true\n")
    message = _error(path)
    assert message.startswith(f"{path}, line 3: display.summary.show_clock: unknown key")
    top = write_config("slos:\n  ttft_p95_ms: 1\n", "top.yaml")
    assert _error(top) == f"{top}, line 1: slos: unknown key (did you mean 'slo'?)"


def test_unknown_key_in_an_argument() -> None:
    assert _error(overrides={"slo.ttft_p95": 1}).startswith(
        "argument: slo.ttft_p95: unknown key (did you mean 'ttft_p95_ms'?)"
    )


@pytest.mark.parametrize(
    ("var", "text", "problem"),
    [
        ("MTOP_SLO_TTFT_P95_MS", "abc", "must be a number, got 'abc'"),
        ("MTOP_SLO_TTFT_P95_MS", "nan", "must be a number, got 'nan'"),
        ("MTOP_MAX_WIDTH", "1.5", "must be an integer, got '1.5'"),
        ("MTOP_COLOR_ENABLED", "maybe", "must be a boolean"),
        ("MTOP_MODE", "prod", "must be one of mock, live, got 'prod'"),
        ("LLD_MODE", "prod", "must be one of mock, live, got 'prod'"),
    ],
)
def test_garbage_variable_names_the_variable(var: str, text: str, problem: str) -> None:
    message = _error(env={var: text})
    assert message.startswith(f"{var}: ")
    assert problem in message


def test_duplicate_key(write_config: WriteConfig) -> None:
    path = write_config("slo:\n  ttft_p95_ms: 3\n  ttft_p95_ms: 4\n")
    assert _error(path) == f"{path}, line 3: slo.ttft_p95_ms: duplicate key"


def test_column_errors_name_the_column_item(write_config: WriteConfig) -> None:
    path = write_config("display:\n  columns:\n    - {name: X, field: service, width: 0}\n")
    assert _error(path) == f"{path}, line 3: display.columns[0].width: must be > 0, got 0"
    missing = write_config("display:\n  columns:\n    - {name: X, field: service}\n", "m.yaml")
    assert _error(missing) == f"{missing}, line 3: display.columns[0].width: missing required key"


def test_python_tags_are_refused(write_config: WriteConfig) -> None:
    path = write_config("slo: !!python/object/apply:os.system ['echo pwned']\n")
    assert "unsupported YAML tag" in _error(path)
    scalar = write_config("mode: !!python/name:os.system\n", "s.yaml")
    assert _error(scalar).startswith(f"{scalar}, line 1:")


def test_missing_file_names_the_variable() -> None:
    assert _error(env={"MTOP_CONFIG_PATH": "/no/such/mtop.yaml"}) == (
        "MTOP_CONFIG_PATH: config file not found: /no/such/mtop.yaml"
    )
    with pytest.raises(ConfigError, match=r"not found: nope\.yaml"):
        load_config("nope.yaml", env={})


def test_url_credentials_are_not_echoed() -> None:
    message = _error(env={"MTOP_PROMETHEUS_URL": "ftp://admin:hunter2@prom:9090"})
    assert message.startswith("MTOP_PROMETHEUS_URL: live.prometheus_url:")
    assert "hunter2" not in message


def test_direct_construction_validates() -> None:
    with pytest.raises(ConfigError, match="ttft_p95_ms: must be > 0"):
        SLOConfig(0, 0.1, 1000)
    with pytest.raises(ConfigError, match="memory_gb: must be > 0"):
        GPUType(memory_gb=0, hourly_cost=1)
    with pytest.raises(ConfigError, match="min: must be <= max"):
        Threshold("red", min=5, max=1)
    with pytest.raises(ConfigError, match="justify: must be one of left, right, center"):
        ColumnConfig("X", "service", 5, justify="middle")
    with pytest.raises(ConfigError, match="spike_multiplier: must be >= 1"):
        WorkloadConfig(100, 0.5)
    assert SLOConfig(500, 0, 1000).error_rate_percent == 0.0  # both ends of 0-100 are allowed


def test_gpu_keys_must_follow_the_convention() -> None:
    message = _error(overrides={"technology.gpu_types": {"H100": {"memory_gb": 80, "hourly_cost": 5}}})
    assert message.startswith("argument: technology.gpu_types.H100: key must look like")


# --- cache --------------------------------------------------------------------------------------------------


def test_same_inputs_same_object(write_config: WriteConfig) -> None:
    path = write_config("slo:\n  ttft_p95_ms: 300\n")
    assert load_config(path, env={"MTOP_MODE": "live"}) is load_config(path, env={"MTOP_MODE": "live"})
    assert default_config() is default_config()


def test_changed_file_is_never_stale(write_config: WriteConfig) -> None:
    path = write_config("slo:\n  ttft_p95_ms: 300\n")
    stat = path.stat()
    assert load_config(path, env={}).slo.ttft_p95_ms == 300
    path.write_text("slo:\n  ttft_p95_ms: 400\n")  # same size
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # and the same mtime: only the bytes differ
    assert load_config(path, env={}).slo.ttft_p95_ms == 400


def test_touched_file_reloads_with_the_same_value(write_config: WriteConfig) -> None:
    path = write_config("slo:\n  ttft_p95_ms: 300\n")
    first = load_config(path, env={})
    os.utime(path, ns=(0, path.stat().st_mtime_ns + 10**9))
    second = load_config(path, env={})
    assert second is not first and second == first


def test_changed_env_or_overrides_is_never_stale() -> None:
    assert load_config(env={"MTOP_SLO_TTFT_P95_MS": "300"}).slo.ttft_p95_ms == 300
    assert load_config(env={"MTOP_SLO_TTFT_P95_MS": "301"}).slo.ttft_p95_ms == 301
    assert load_config(env={}, mode="live").mode == "live"
    assert load_config(env={}, mode="mock").mode == "mock"


def test_clear_cache() -> None:
    first = load_config(env={})
    clear_cache()
    second = load_config(env={})
    assert second is not first and second == first


# --- the objects themselves ---------------------------------------------------------------------------------


def test_config_is_frozen_hashable_and_picklable() -> None:
    cfg = load_config(env={"MTOP_MODE": "live"})
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.mode = "mock"  # type: ignore[misc]
    with pytest.raises(TypeError):
        cfg.technology.gpu_types["nvidia-x"] = cfg.technology.gpu_types["nvidia-h100"]  # type: ignore[index]
    assert hash(cfg) == hash(load_config(env={"MTOP_MODE": "live"}))
    assert pickle.loads(pickle.dumps(cfg)) == cfg
    assert cfg != default_config()  # sources aside, the mode differs


def test_get_setting_and_config_to_dict() -> None:
    cfg = load_config(env={"MTOP_PROMETHEUS_URL": "https://bob:s3cret@prom.example"})
    assert get_setting(cfg, "technology.gpu_types.amd-mi300x.memory_gb") == 192
    assert get_setting(cfg, "slo.missing", "fallback") == "fallback"
    assert config_to_dict(cfg)["live"]["prometheus_url"] == "https://bob:***@prom.example"
    assert config_to_dict(cfg, redact=False)["live"]["prometheus_url"] == "https://bob:s3cret@prom.example"
    assert "sources" not in config_to_dict(cfg)
    assert isinstance(config_to_dict(cfg)["display"]["columns"], list)


def test_file_config_provider(write_config: WriteConfig) -> None:
    path = write_config(
        "display:\n  columns:\n"
        "    - {name: Cost, field: hourly_cost, width: 120, sortable: true, sort_key: cost}\n"
        "    - {name: Cost, field: hourly_cost, width: 8, sortable: true}\n"
    )
    provider = FileConfigProvider(path, env={"MTOP_SORT_KEY": "cost"})
    assert isinstance(provider, ConfigProvider)
    assert provider.get_setting("display.sorting.default_key") == "cost"
    warnings = provider.validate_config()
    assert "display.columns: duplicate column name 'Cost'" in warnings
    assert "display.columns: duplicate column field 'hourly_cost'" in warnings
    assert "display.columns[0] (Cost): width 120 is over 100" in warnings
    assert "display.columns[1] (Cost): sortable but has no sort_key" in warnings
    assert any("'ttft' is the sort_key of no sortable column" in w for w in warnings)
    assert config_warnings(default_config()) == []


def test_config_fields_are_the_briefs() -> None:
    fields = [f.name for f in dataclasses.fields(Config)]
    assert fields[:7] == ["build", "display", "technology", "slo", "workload", "mode", "live"]
    gpu = [f.name for f in dataclasses.fields(GPUType)]
    assert gpu == [
        "memory_gb",
        "hourly_cost",
        "price_source",
        "product_patterns",
        "dcgm_patterns",
        "relative_throughput",
        "throughput_source",
        "vendor",
        "family",
    ]
