"""What every fleet command shares: the ``--mode``/``-n``/``-A``/``--context``/``-o`` options, connecting, printing.

Output honours the configuration: ``display.color_enabled`` (``MTOP_COLOR_ENABLED``, ``NO_COLOR``; colour
only on a terminal), ``display.max_width`` (``MTOP_MAX_WIDTH``) and ``display.sorting.default_key``
(``MTOP_SORT_KEY``). JSON and YAML carry the same data (NaN as null, times as ISO 8601 text), so either
parses back to the same rows.

>>> p = argparse.ArgumentParser(); add_fleet_arguments(p)
>>> a = p.parse_args(["-n", "a", "-n", "b", "-o", "json", "--mode", "mock"]); a.namespace, a.output, a.mode
(['a', 'b'], 'json', 'mock')
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import IO, TYPE_CHECKING, Any

from mtop.output import FORMATS

if TYPE_CHECKING:
    import pandas as pd

    from mtop.config import ColumnConfig, Config
    from mtop.context import Fleet

__all__ = [
    "add_fleet_arguments",
    "connect_fleet",
    "dump",
    "namespaces_of",
    "records",
    "render_table",
    "use_color",
]


def add_fleet_arguments(
    parser: argparse.ArgumentParser,
    *,
    output: Sequence[str] | None = FORMATS,
    default_output: str = "table",
) -> None:
    """The shared options: data source, namespaces, context, simulator seed and size, and ``-o`` if ``output``.

    >>> p = argparse.ArgumentParser(); add_fleet_arguments(p, output=None)
    >>> a = p.parse_args(["-A", "--context", "prod"]); a.all_namespaces, a.context, hasattr(a, "output")
    (True, 'prod', False)
    """
    group = parser.add_argument_group("fleet")
    group.add_argument("--mode", choices=("mock", "live"), help="data source (default: MTOP_MODE, else mock)")
    group.add_argument("-n", "--namespace", action="append", metavar="NS", help="only this namespace (repeatable)")
    group.add_argument(
        "-A",
        "--all-namespaces",
        action="store_true",
        help="every namespace (the default in mock mode; live mode defaults to the context's namespace)",
    )
    group.add_argument("--context", metavar="NAME", help="kubeconfig context (live mode)")
    group.add_argument("--kubeconfig", metavar="FILE", help="kubeconfig file (live mode; default: live.kubeconfig)")
    group.add_argument("--seed", type=int, default=0, help="simulated fleet: random seed (default: 0)")
    group.add_argument("--services", type=int, metavar="N", help="simulated fleet: number of services")
    group.add_argument(
        "--workspace", metavar="DIR",
        help="simulated fleet: where created and deleted services are kept (default: $MTOP_WORKSPACE)",
    )  # fmt: skip
    if output:
        parser.add_argument(
            "-o", "--output", choices=tuple(output), default=default_output,
            help=f"output format (default: {default_output})",
        )  # fmt: skip


def connect_fleet(args: argparse.Namespace, cfg: Config) -> Fleet:
    """The fleet the options name: ``--mode``; live: ``--context``, ``--kubeconfig``; mock: ``--workspace``.

    >>> from mtop.config import default_config
    >>> p = argparse.ArgumentParser(); add_fleet_arguments(p)
    >>> connect_fleet(p.parse_args(["--mode", "mock"]), default_config()).mode
    'mock'
    """
    from mtop.context import connect

    mode = (getattr(args, "mode", None) or cfg.mode or "mock").lower()
    options: dict[str, Any] = {}
    if mode == "live":  # each mode takes its own options; the other's are ignored
        options.update({k: getattr(args, k) for k in ("context", "kubeconfig") if getattr(args, k, None)})
    elif getattr(args, "workspace", None):
        options["workspace"] = args.workspace
    return connect(
        getattr(args, "mode", None),
        config=cfg,
        seed=getattr(args, "seed", 0) or 0,
        services=getattr(args, "services", None),
        **options,
    )


def namespaces_of(args: argparse.Namespace, fleet: Fleet) -> list[str] | None:
    """The namespaces to look at (``None``: all); live mode defaults to the kubeconfig context's namespace.

    >>> import mtop
    >>> namespaces_of(argparse.Namespace(namespace=["x"], all_namespaces=False), mtop.connect(workspace=False))
    ['x']
    """
    from mtop.commands.ops import scope

    given = getattr(args, "namespace", None)
    every = bool(getattr(args, "all_namespaces", False))
    default = None
    if fleet.mode == "live" and not given and not every:
        from mtop.commands.kube_ops import context_namespace

        live = fleet.config.live
        default = context_namespace(getattr(args, "kubeconfig", None) or live.kubeconfig,
                                    getattr(args, "context", None) or live.context)  # fmt: skip
    return scope(fleet, given, every, default)


def use_color(cfg: Config, stream: IO[str] | None = None) -> bool:
    """Colour only when the configuration allows it (``MTOP_COLOR_ENABLED``, ``NO_COLOR``) and on a terminal.

    >>> import io
    >>> from mtop.config import default_config
    >>> use_color(default_config(), io.StringIO())
    False
    """
    out = stream if stream is not None else sys.stdout
    return bool(cfg.display.color_enabled) and bool(getattr(out, "isatty", lambda: False)())


def records(df: pd.DataFrame) -> list[dict[str, Any]]:
    """A frame's rows as JSON-ready dicts (NaN/NA -> None, times -> ISO 8601).

    >>> import pandas as pd
    >>> records(pd.DataFrame({"a": [1.0, float("nan")]}))
    [{'a': 1.0}, {'a': None}]
    """
    from mtop.output import frame_records

    return frame_records(df)


def dump(data: Any, fmt: str) -> str:
    """``data`` (plain dicts and lists) as ``json`` or ``yaml`` text that parses back to the same data.

    >>> print(dump({"b": 1, "a": [None]}, "yaml"), end="")
    b: 1
    a:
    - null
    """
    if fmt == "json":
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    if fmt == "yaml":
        import yaml

        return str(yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=120))
    raise ValueError(f"dump() writes json or yaml, not {fmt!r}")


def render_table(df: pd.DataFrame, columns: Sequence[ColumnConfig], cfg: Config, *, color: bool) -> str:
    """``df`` as a text table with these columns (formats, colours), as wide as ``display.max_width`` allows.

    >>> import pandas as pd
    >>> from mtop.config import ColumnConfig, default_config
    >>> print(render_table(pd.DataFrame({"x": [1.5]}), [ColumnConfig("X", "x", 5, format="float")],
    ...                    default_config(), color=False))
      X
    1.5
    """
    from mtop.output import ColumnFormatter, TextTable

    shown = [c for c in columns if c.enabled and c.field in df.columns]
    formatters = [ColumnFormatter(c) for c in shown]
    table = TextTable(
        max_width=cfg.display.max_width, right_align=[c.format != "string" or c.justify == "right" for c in shown]
    )
    table.create_table([c.name for c in shown])
    data = {c.field: df[c.field].tolist() for c in shown}
    for i in range(len(df)):
        values = [data[c.field][i] for c in shown]
        table.add_row(
            [f.format(v) for f, v in zip(formatters, values, strict=True)],
            [f.color(v) if color else None for f, v in zip(formatters, values, strict=True)],
        )
    return table.render()
