"""Export an executed report notebook to one self-contained HTML file: code hidden, charts drawn offline.

Under papermill ``fig.show()`` emits only the ``application/vnd.plotly.v1+json`` mimetype, which
nbconvert's HTML templates do not render. :func:`plotly_html` turns each such output into a ``<div>``
with a *deterministic* id (``mtop-plot-1``, ...) and a ``Plotly.newPlot`` call whose JSON cannot close
the script element (``<``, ``>`` and ``&`` are escaped), and the page carries the plotly.js bundle
inline in its ``<head>``, once. The template drops what nbconvert would load from the internet
(require.js, MathJax, mermaid, the widget manager), so the file opens with the network off.
"""

from __future__ import annotations

import copy
import html
import json
from pathlib import Path
from typing import Any, cast

from mtop.files import write_text_atomic

__all__ = ["PLOTLY_MIMETYPE", "export_html", "footer_html", "plotly_html", "to_html"]

PLOTLY_MIMETYPE = "application/vnd.plotly.v1+json"

_TEMPLATE = """{%- extends 'index.html.j2' -%}
{%- block html_head_js -%}
{%- if resources.mtop_plotly_js -%}
<script type="text/javascript">{{ resources.mtop_plotly_js }}</script>
{%- endif -%}
{%- endblock html_head_js -%}
{% block jupyter_widgets %}{% endblock jupyter_widgets %}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{% block body_footer %}
{{ resources.mtop_footer }}
{{ super() }}
{% endblock body_footer %}
{%- block html_head_css -%}
<style type="text/css">
body { max-width: 1200px; margin: 0 auto; }
.mtop-plot { width: 100%; }
.jp-Cell-inputWrapper:empty, .jp-Cell.jp-CodeCell.jp-mod-noOutputs { display: none; }
.mtop-footer { font: 12px sans-serif; color: #555; border-top: 1px solid #ddd; margin: 2em 0; padding-top: 0.5em; }
</style>
{%- endblock html_head_css -%}
"""


def _script_json(value: Any) -> str:
    """JSON that is safe inside a ``<script>`` element (no ``</script>``, no ``<!--``)."""
    text = json.dumps(value, separators=(",", ":"), default=str)  # NaN is a JS literal here
    for char, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028"),
                          ("\u2029", "\\u2029")):  # fmt: skip
        text = text.replace(char, escaped)
    return text


def plotly_html(figure: dict[str, Any], div_id: str) -> str:
    """The ``<div>`` and script that draw one plotly figure (its JSON as ``fig.show()`` emitted it).

    >>> html = plotly_html({"data": [{"type": "bar", "x": ["</script>"], "y": [1]}], "layout": {}}, "mtop-plot-1")
    >>> html.count("</script>")  # the one that closes the element: the label's is escaped
    1
    """
    layout = dict(figure.get("layout") or {})
    height = layout.get("height") or 450
    config = {"responsive": True, "displaylogo": False, **(figure.get("config") or {})}
    config.pop("plotlyServerURL", None)
    args = ", ".join(_script_json(v) for v in (figure.get("data") or [], layout, config))
    return (
        f'<div id="{div_id}" class="mtop-plot" style="height:{int(height)}px;"></div>\n'
        f'<script type="text/javascript">Plotly.newPlot("{div_id}", {args});</script>'
    )


def _with_plot_html(nb: Any) -> tuple[Any, int]:
    """A copy of ``nb`` whose plotly outputs also carry their HTML; and how many there were."""
    out = copy.deepcopy(nb)
    count = 0
    for cell in out.cells:
        for output in cell.get("outputs", []):
            data = output.get("data") or {}
            if PLOTLY_MIMETYPE in data:
                count += 1  # a new dict: outputs that share one (a copied notebook) still get their own id
                output["data"] = {**data, "text/html": plotly_html(dict(data[PLOTLY_MIMETYPE]), f"mtop-plot-{count}")}
    return out, count


def footer_html(nb: Any) -> str:
    """The page's footer: the parameters papermill ran the notebook with (escaped), and when.

    >>> import nbformat
    >>> nb = nbformat.v4.new_notebook(metadata={"papermill": {"parameters": {"seed": 3, "name": "<b>"}}})
    >>> footer_html(nb)
    '<footer class="mtop-footer">Parameters: name=&#x27;&lt;b&gt;&#x27;, seed=3.</footer>'
    """
    meta = (nb.metadata.get("papermill") or {}) if hasattr(nb, "metadata") else {}
    params = meta.get("parameters") or {}
    text = ", ".join(f"{k}={v!r}" for k, v in sorted(params.items())) or "the notebook's defaults"
    when = f" Run at {meta['end_time'][:19].replace('T', ' ')} UTC." if meta.get("end_time") else ""
    return f'<footer class="mtop-footer">Parameters: {html.escape(text)}.{when}</footer>'


def to_html(nb: Any, title: str | None = None) -> str:
    """The self-contained HTML of an executed notebook (a ``nbformat`` node).

    >>> import nbformat
    >>> nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Hi")])
    >>> "<h1" in to_html(nb, "Hi") and "<script src=" not in to_html(nb)
    True
    """
    from jinja2 import DictLoader
    from nbconvert import HTMLExporter

    nb, plots = _with_plot_html(nb)
    if title:
        nb.metadata["title"] = title
    exporter = cast("Any", HTMLExporter)(
        template_name="lab",
        extra_loaders=[DictLoader({"mtop_report.html.j2": _TEMPLATE})],
        template_file="mtop_report.html.j2",
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
    )
    resources: dict[str, Any] = {"mtop_plotly_js": "", "mtop_footer": footer_html(nb)}
    if plots:
        from plotly.offline import get_plotlyjs

        resources["mtop_plotly_js"] = get_plotlyjs()
    body, _ = exporter.from_notebook_node(nb, resources=resources)
    return str(body)


def export_html(ipynb: Path, html: Path, title: str | None = None) -> Path:
    """Write the self-contained HTML of the executed notebook at ``ipynb`` to ``html``.

    >>> export_html(Path("fleet-overview.ipynb"), Path("fleet-overview.html"))  # doctest: +SKIP
    PosixPath('fleet-overview.html')
    """
    import nbformat

    nb = cast("Any", nbformat).read(str(ipynb), as_version=4)
    write_text_atomic(html, to_html(nb, title))  # a reader never sees half a report
    return html
