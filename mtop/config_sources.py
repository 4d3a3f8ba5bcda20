r"""Reading the configuration layers: line-marked safe YAML, merging, environment variables, provenance.

A *layer* is a ``(tree, origins)`` pair: plain dicts and lists, and where each key came from (file and line,
variable, or argument). This module never sees the dataclasses (``mtop.config`` imports it, not the other way):
the schema comes in as a *key-type tree*, nested dicts of key -> python type (``list`` for lists) in which
``"*"`` (``ANY_KEY``) stands for every key of a free-form mapping such as ``technology.gpu_types``.

>>> tree, origins = read_yaml("slo:\n  ttft_p95_ms: 300\n", "my.yaml", "file")
>>> tree, origins[("slo", "ttft_p95_ms")].label()
({'slo': {'ttft_p95_ms': 300}}, 'my.yaml, line 2')
"""

from __future__ import annotations

import hashlib
import math
import os
from collections.abc import Hashable, Iterator, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from mtop.errors import ConfigError

__all__ = [
    "ANY_KEY",
    "ConfigFile",
    "KeyPath",
    "KeyTypes",
    "Layer",
    "Origin",
    "cache_key",
    "describe",
    "dotted",
    "env_layer",
    "env_variable_names",
    "error_at",
    "gpu_env_name",
    "merge",
    "override_layer",
    "packaged_file",
    "provenance",
    "read_yaml",
    "user_file",
]

ANY_KEY = "*"
KeyPath = tuple[str | int, ...]
KeyTypes = Mapping[str, Any]  # key -> python type, or a nested KeyTypes; {ANY_KEY: ...} for a free-form mapping
_TRUE, _FALSE = ("true", "1", "yes", "on"), ("false", "0", "no", "off")
_MISSING: Any = object()


def describe(value: Any) -> str:
    """How a bad value is quoted in a message.

    >>> describe(True), describe(None), describe({"a": 1}), describe([1]), describe("x")
    ('true', 'null', 'a mapping', 'a list', "'x'")
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, (list, tuple)):
        return "a list"
    return repr(value)


def dotted(path: KeyPath) -> str:
    """A key path as text: dots between keys, brackets around list indexes.

    >>> dotted(("display", "columns", 2, "width"))
    'display.columns[2].width'
    """
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


@dataclass(frozen=True)
class Origin:
    """Where one key's value came from; ``layer`` is packaged, file, env or argument.

    >>> Origin("config.yaml", 3, "file").label(), Origin("MTOP_MODE", None, "env").label()
    ('config.yaml, line 3', 'MTOP_MODE')
    """

    source: str
    line: int | None
    layer: str

    def label(self) -> str:
        """The file and line, or the variable or ``argument``.

        >>> Origin("argument", None, "argument").label()
        'argument'
        """
        return f"{self.source}, line {self.line}" if self.line is not None else self.source


Layer = tuple[dict[str, Any], dict[KeyPath, Origin]]


# --- reading YAML with line marks ---------------------------------------------------------------------------

# libyaml's composer when present (same nodes and marks, several times faster); constructors stay safe.
_LOADER: type[yaml.SafeLoader] | type[yaml.CSafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_COLLECTION_TAGS = ("tag:yaml.org,2002:map", "tag:yaml.org,2002:seq")


def read_yaml(text: str, source: str, layer: str) -> Layer:
    r"""Parse YAML safely (compose + SafeLoader constructors), recording each key's line.

    Raises:
        ConfigError: malformed YAML, a duplicate key, a non-string key, an unsupported tag or a recursive
            alias; the message names ``source`` and the line.

    >>> read_yaml("mode: live\nmode: mock\n", "c.yaml", "file")
    Traceback (most recent call last):
    mtop.errors.ConfigError: c.yaml, line 2: mode: duplicate key
    """
    reader = _YamlReader(source, layer)
    try:
        root = yaml.compose(text, Loader=_LOADER)
        if root is None:
            return {}, {}
        if not isinstance(root, yaml.MappingNode):
            raise ConfigError("the top level must be a mapping of sections", source=source, line=_line(root))
        data = reader.value(root, ())
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = "; ".join(p for p in (exc.context, exc.problem) if p) or "cannot parse"
        raise ConfigError(f"malformed YAML: {problem}", source=source, line=mark.line + 1 if mark else None) from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"malformed YAML: {exc}", source=source) from None
    finally:
        reader.loader.dispose()
    return data, reader.origins


def _line(node: yaml.Node) -> int:
    return int(node.start_mark.line) + 1


class _YamlReader:
    """Turns composed nodes into plain values, keeping the line of every key and list item."""

    def __init__(self, source: str, layer: str) -> None:
        self.source, self.layer = source, layer
        self.loader = yaml.SafeLoader("")
        self.origins: dict[KeyPath, Origin] = {}
        self.active: set[int] = set()  # nodes being read: a recursive alias would never end

    def value(self, node: yaml.Node, path: KeyPath) -> Any:
        if isinstance(node, yaml.ScalarNode):
            return self.loader.construct_object(node, deep=True)
        if node.tag not in _COLLECTION_TAGS:  # e.g. !!python/object: never constructed, and not silently a dict
            raise ConfigError(
                f"unsupported YAML tag {node.tag}", key=dotted(path) or None, source=self.source, line=_line(node)
            )
        if id(node) in self.active:
            raise ConfigError("recursive alias", key=dotted(path) or None, source=self.source, line=_line(node))
        self.active.add(id(node))
        try:
            if isinstance(node, yaml.MappingNode):
                return self.mapping(node, path)
            return [self.item(item, (*path, i)) for i, item in enumerate(node.value)]
        finally:
            self.active.discard(id(node))

    def item(self, node: yaml.Node, path: KeyPath) -> Any:
        self.origins[path] = Origin(self.source, _line(node), self.layer)
        return self.value(node, path)

    def mapping(self, node: yaml.MappingNode, path: KeyPath) -> dict[str, Any]:
        self.loader.flatten_mapping(node)  # resolves YAML merge keys (<<)
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = self.loader.construct_object(key_node) if isinstance(key_node, yaml.ScalarNode) else key_node
            if not isinstance(key, str):
                msg = f"keys must be strings, got {describe(key)}"
                raise ConfigError(msg, key=dotted(path) or None, source=self.source, line=_line(key_node))
            if key in out:
                raise ConfigError("duplicate key", key=dotted((*path, key)), source=self.source, line=_line(key_node))
            self.origins[(*path, key)] = Origin(self.source, _line(key_node), self.layer)
            out[key] = self.value(value_node, (*path, key))
        return out


# --- merging ------------------------------------------------------------------------------------------------


def merge(base: Layer, top: Layer) -> Layer:
    """``top`` over ``base``: mappings merge key by key, anything else (lists too) replaces.

    >>> merge(({"slo": {"a": 1, "b": 2}}, {}), ({"slo": {"b": 3}}, {}))[0]
    {'slo': {'a': 1, 'b': 3}}
    """
    tree = _merge_trees(base[0], top[0])
    origins = {p: o for p, o in {**base[1], **top[1]}.items() if _get(tree, p, _MISSING) is not _MISSING}
    return tree, origins


def _merge_trees(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in top.items():
        current = out.get(key)
        if isinstance(value, dict) and isinstance(current, dict):
            out[key] = _merge_trees(current, value)
        elif value is None and isinstance(current, dict):
            continue  # an empty section ("slo:" with every key commented out) changes nothing
        else:
            out[key] = value
    return out


def _get(tree: Any, path: KeyPath, default: Any = None) -> Any:
    for part in path:
        in_list = isinstance(part, int) and isinstance(tree, list) and 0 <= part < len(tree)
        if not (in_list or (isinstance(part, str) and isinstance(tree, dict) and part in tree)):
            return default
        tree = tree[part]
    return tree


def _put(tree: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    for part in path[:-1]:
        child = tree.get(part)
        if not isinstance(child, dict):
            child = tree[part] = {}
        tree = child
    tree[path[-1]] = value


# --- environment variables and overrides --------------------------------------------------------------------


def gpu_env_name(key: str) -> str:
    """The ``<TYPE>`` of ``MTOP_TECHNOLOGY_GPU_<TYPE>_COST``: the key without its vendor, upper case.

    >>> gpu_env_name("nvidia-a100-40gb"), gpu_env_name("amd-mi300x")
    ('A100_40GB', 'MI300X')
    """
    return key.split("-", 1)[-1].upper().replace("-", "_")


def _scalar_paths(types: Any, data: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    """Every scalar key of the schema (free-form keys as present in ``data``), with its type."""
    if isinstance(types, Mapping):
        if ANY_KEY in types:
            for key, value in data.items() if isinstance(data, dict) else ():
                yield from _scalar_paths(types[ANY_KEY], value, (*path, str(key)))
        else:
            for name, sub in types.items():
                yield from _scalar_paths(sub, data.get(name) if isinstance(data, dict) else None, (*path, name))
    elif types is not list:  # lists are set in files, not variables
        yield path, types


_SHORT_NAMES = {
    ("display", "color_enabled"): "MTOP_COLOR_ENABLED",
    ("display", "max_width"): "MTOP_MAX_WIDTH",
    ("display", "sorting", "default_key"): "MTOP_SORT_KEY",
    ("live", "prometheus_url"): "MTOP_PROMETHEUS_URL",
}
_GPU_SUFFIX = {"hourly_cost": "COST", "memory_gb": "MEMORY"}
_COLOR = ("display", "color_enabled")


def _variable_names(path: tuple[str, ...]) -> list[str]:
    """Variables for one key, highest priority first: MTOP_* names, then their legacy aliases."""
    names = []
    if path in _SHORT_NAMES:
        names.append(_SHORT_NAMES[path])
    if len(path) == 4 and path[:2] == ("technology", "gpu_types") and path[3] in _GPU_SUFFIX:
        names.append(f"MTOP_TECHNOLOGY_GPU_{gpu_env_name(path[2])}_{_GPU_SUFFIX[path[3]]}")
    names.append("MTOP_" + "_".join(path).upper().replace("-", "_").replace(".", "_"))
    legacy = ["LLD_MODE"] if path == ("mode",) else []
    legacy += ["LDCTL_" + n.removeprefix("MTOP_") for n in names]
    return list(dict.fromkeys(names + legacy))


def env_variable_names(types: KeyTypes, tree: dict[str, Any]) -> dict[str, str]:
    """Every variable that sets a scalar key of ``tree`` (legacy aliases included), mapped to its dotted key.

    >>> env_variable_names({"mode": str}, {})
    {'MTOP_MODE': 'mode', 'LLD_MODE': 'mode', 'LDCTL_MODE': 'mode', 'NO_COLOR': 'display.color_enabled'}
    """
    out: dict[str, str] = {}
    for path, _tp in _scalar_paths(types, tree):
        for name in _variable_names(path):
            out.setdefault(name, dotted(path))
    out.setdefault("NO_COLOR", dotted(_COLOR))
    return out


def _parse_text(text: str, tp: Any, key: str, source: str) -> Any:
    """Convert a variable's text to the key's type (bool words, int, float, or the text itself)."""
    word = text.strip()
    if tp is bool:
        if word.lower() in _TRUE + _FALSE:
            return word.lower() in _TRUE
        raise ConfigError(f"must be a boolean (true/false, 1/0, yes/no, on/off), got {text!r}", key=key, source=source)
    try:
        if tp is int:
            return int(word)
        if tp is float:
            number = float(word)
            if math.isfinite(number):
                return number
            raise ValueError(word)
    except ValueError:
        kind = "an integer" if tp is int else "a number"
        raise ConfigError(f"must be {kind}, got {text!r}", key=key, source=source) from None
    return word


def env_layer(env: Mapping[str, str], tree: dict[str, Any], types: KeyTypes) -> Layer:
    """The layer the variables in ``env`` set; ``tree`` (the layers below) names the GPU types present.

    Each key takes its first non-empty variable (``MTOP_*`` before ``LDCTL_*``); a non-empty ``NO_COLOR``
    turns colour off unless a colour variable is set.

    Raises:
        ConfigError: a value of the wrong type; the message names the variable and the key.

    >>> tree, origins = env_layer({"LDCTL_SLO_TTFT_P95_MS": "250"}, {}, {"slo": {"ttft_p95_ms": float}})
    >>> tree, origins[("slo", "ttft_p95_ms")].label()
    ({'slo': {'ttft_p95_ms': 250.0}}, 'LDCTL_SLO_TTFT_P95_MS')
    """
    out: dict[str, Any] = {}
    origins: dict[KeyPath, Origin] = {}
    for path, tp in _scalar_paths(types, tree):
        name = next((n for n in _variable_names(path) if env.get(n)), None)
        if name is None:
            continue
        _put(out, path, _parse_text(env[name], tp, dotted(path), name))
        origins[path] = Origin(name, None, "env")
    if env.get("NO_COLOR") and _COLOR not in origins:  # https://no-color.org: any non-empty value
        _put(out, _COLOR, False)
        origins[_COLOR] = Origin("NO_COLOR", None, "env")
    return out, origins


def _type_at(types: KeyTypes, path: tuple[str, ...]) -> Any:
    node: Any = types
    for part in path:
        if not isinstance(node, Mapping):
            return None
        node = node.get(ANY_KEY if ANY_KEY in node else part)
        if node is None:
            return None
    return node


def override_layer(overrides: Mapping[str, Any], types: KeyTypes) -> Layer:
    """The layer of explicit overrides (dotted keys); text for a bool/int/float key is converted.

    >>> override_layer({"slo.ttft_p95_ms": "300", "mode": None}, {"slo": {"ttft_p95_ms": float}})[0]
    {'slo': {'ttft_p95_ms': 300.0}}
    """
    out: dict[str, Any] = {}
    origins: dict[KeyPath, Origin] = {}
    origin = Origin("argument", None, "argument")
    for key, value in overrides.items():
        if value is None:  # "not given": CLI flags can be passed straight through
            continue
        path = tuple(key.split("."))
        tp = _type_at(types, path)
        if isinstance(value, str) and tp in (bool, int, float):
            value = _parse_text(value, tp, key, "argument")
        _put(out, path, value)
        _record(value, path, origin, origins)
    return out, origins


def _record(value: Any, path: KeyPath, origin: Origin, origins: dict[KeyPath, Origin]) -> None:
    origins[path] = origin
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, sub in items:
        _record(sub, (*path, key), origin, origins)


# --- provenance ---------------------------------------------------------------------------------------------


def provenance(tree: dict[str, Any], origins: Mapping[KeyPath, Origin], packaged: dict[str, Any]) -> dict[str, str]:
    """Leaf keys set above the packaged file: always for env/arguments, for files only when they differ.

    >>> provenance({"mode": "live"}, {("mode",): Origin("MTOP_MODE", None, "env")}, {"mode": "mock"})
    {'mode': 'MTOP_MODE'}
    """
    out: dict[str, str] = {}
    for path, origin in sorted(origins.items(), key=lambda item: dotted(item[0])):
        if origin.layer == "packaged" or any(isinstance(p, int) for p in path):
            continue
        value = _get(tree, path)
        if isinstance(value, dict):
            continue
        if origin.layer == "file" and _get(packaged, path, _MISSING) == value:
            continue
        out[dotted(path)] = origin.label()
    return out


def error_at(message: str, key: str, origins: Mapping[str, Origin]) -> ConfigError:
    """A ConfigError at ``key``, with the file/line or variable of the nearest key that has an origin.

    >>> str(error_at("must be > 0", "slo.ttft_p95_ms", {"slo": Origin("c.yaml", 4, "file")}))
    'c.yaml, line 4: slo.ttft_p95_ms: must be > 0'
    """
    probe = key
    while probe and probe not in origins:
        probe = probe[: max(probe.rfind("."), probe.rfind("["), 0)]
    origin = origins.get(probe)
    if origin is None:
        return ConfigError(message, key=key or None)
    return ConfigError(message, key=key or None, source=origin.source, line=origin.line)


# --- files and the cache key --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConfigFile:
    r"""One configuration file's bytes, read once, with its stamp (mtime_ns, size) for the cache key.

    >>> ConfigFile("c.yaml", b"mode: live\n", (0, 11)).text()
    'mode: live\n'
    """

    label: str
    data: bytes
    stamp: tuple[int, int]  # the digest in ``key`` catches same-tick rewrites

    @property
    def key(self) -> tuple[str, tuple[int, int], str]:
        """What identifies this version of the file.

        >>> ConfigFile("c.yaml", b"", (1, 0)).key[:2]
        ('c.yaml', (1, 0))
        """
        return self.label, self.stamp, hashlib.blake2b(self.data, digest_size=16).hexdigest()

    def text(self) -> str:
        r"""The contents as text.

        Raises:
            ConfigError: the bytes are not UTF-8; names the file.

        >>> ConfigFile("c.yaml", b"\xff", (0, 1)).text()
        Traceback (most recent call last):
        mtop.errors.ConfigError: c.yaml: not UTF-8 text (byte 0)
        """
        try:
            return self.data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ConfigError(f"not UTF-8 text (byte {exc.start})", source=self.label) from None


def packaged_file() -> ConfigFile:
    """The ``config.yaml`` inside the ``mtop`` package: the default of every key.

    >>> packaged_file().label.endswith("config.yaml")
    True
    """
    resource = resources.files("mtop").joinpath("config.yaml")
    stamp = (0, 0)
    if isinstance(resource, Path):
        st = resource.stat()
        stamp = (st.st_mtime_ns, st.st_size)
    return ConfigFile(str(resource), resource.read_bytes(), stamp)


def user_file(path: str | os.PathLike[str] | None, env: Mapping[str, str]) -> ConfigFile | None:
    """The user's file: ``path``, else MTOP_CONFIG_PATH, else LDCTL_CONFIG_PATH, else ./config.yaml if present.

    Raises:
        ConfigError: a named file is missing or unreadable; names the variable or the file.

    >>> user_file(None, {"MTOP_CONFIG_PATH": "/no/such.yaml"})
    Traceback (most recent call last):
    mtop.errors.ConfigError: MTOP_CONFIG_PATH: config file not found: /no/such.yaml
    """
    named_by = next((n for n in ("MTOP_CONFIG_PATH", "LDCTL_CONFIG_PATH") if env.get(n)), None)
    if path is not None:
        candidate, named_by = Path(path).expanduser(), None
    elif named_by is not None:
        candidate = Path(env[named_by]).expanduser()
    else:
        candidate = Path("config.yaml")
        if not candidate.is_file():
            return None
    if not candidate.is_file():
        problem = "is not a file" if candidate.exists() else "not found"
        raise ConfigError(f"config file {problem}: {candidate}", source=named_by)
    resolved = candidate.resolve()
    try:
        st = resolved.stat()
        return ConfigFile(str(resolved), resolved.read_bytes(), (st.st_mtime_ns, st.st_size))
    except OSError as exc:
        raise ConfigError(f"cannot read config file: {exc.strerror}", source=str(resolved)) from None


def _freeze(value: Any) -> Any:
    if isinstance(value, Mapping):
        return tuple(sorted((str(k), _freeze(v)) for k, v in value.items()))
    if isinstance(value, (list, tuple)):
        return tuple(_freeze(v) for v in value)
    return value


def cache_key(
    packaged: ConfigFile, user: ConfigFile | None, env: Mapping[str, str], overrides: Mapping[str, Any]
) -> Hashable | None:
    """What a loaded configuration depends on: both files, the relevant variables and the overrides.

    None when an override value is unhashable (load without caching).

    >>> f = ConfigFile("c.yaml", b"", (0, 0))
    >>> cache_key(f, None, {"HOME": "/a"}, {}) == cache_key(f, None, {"HOME": "/b"}, {})
    True
    >>> cache_key(f, None, {}, {"x": {1}}) is None
    True
    """
    relevant = tuple(
        sorted((k, v) for k, v in env.items() if k.startswith(("MTOP_", "LDCTL_")) or k in ("LLD_MODE", "NO_COLOR"))
    )
    key = (packaged.key, user.key if user else None, relevant, _freeze(overrides))
    try:
        hash(key)
    except TypeError:
        return None
    return key
