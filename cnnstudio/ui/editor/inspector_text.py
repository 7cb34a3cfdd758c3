"""The inspector's read-only text: a layer's arithmetic, its error, totals of a selection.

Plain functions from inference results to small HTML documents for a ``QLabel``.
"""

from __future__ import annotations

import html

from cnnstudio.core.graph import LayerGraph
from cnnstudio.core.inference import GraphInference, NodeInfo

from cnnstudio.ui.editor import formatting as fmt

_MONO = "font-family: monospace;"
MUTED = "#6b6b6b"
_AXES = ("height: ", "width: ", "depth: ")


def escape(text: str) -> str:
    """``text`` safe inside rich text; quotes stay readable (``padding='valid'``)."""
    return html.escape(text, quote=False)


def _row(title: str, body: str) -> str:
    return (f"<tr><td width='104' style='padding: 3px 8px 3px 0; color: {MUTED};' valign='top'>{title}</td>"
            f"<td style='padding: 3px 0;'>{body}</td></tr>")


def _split_equalities(text: str) -> list[str]:
    """``'a = b(c = d) = e'`` -> ``['a', 'b(c = d)', 'e']``: splits at ``=`` outside brackets only."""
    parts, depth, start, i = [], 0, 0, 0
    while i < len(text):
        if text[i] in "([":
            depth += 1
        elif text[i] in ")]":
            depth -= 1
        elif depth == 0 and text.startswith(" = ", i):
            parts.append(text[start:i])
            i += 3
            start = i
            continue
        i += 1
    return parts + [text[start:]]


def _chain(line: str) -> str:
    """A formula as the lecture writes it, one step of the equality chain per line:
    ``out = floor((n + 2p - f)/s) + 1`` / ``    = floor((32 + 2*0 - 5)/1) + 1`` / ``    = 28``."""
    parts = _split_equalities(line)
    if len(parts) < 3:
        return escape(line)
    indent = "&nbsp;" * (len(parts[0]) + 1)
    return "<br>".join([f"{escape(parts[0])} = {escape(parts[1])}"] + [f"{indent}= {escape(p)}" for p in parts[2:]])


def _flops(n: int) -> str:
    """``235,200 (235.2 K)``; small counts without the short form."""
    return fmt.count(n) if n < 1000 else f"{fmt.count(n)} ({fmt.flops(n)})"


def _block(items: list[str]) -> str:
    """Formulas across the full width, in monospace on a light band."""
    return (f"<tr><td colspan='2' bgcolor='#eef1f5' style='padding: 4px 8px; {_MONO}'>"
            f"{'<br>'.join(items)}</td></tr>")


def _size_rows(lines: list[str]) -> list[str]:
    """The output-size row and its formulas; axes that compute the same share one formula."""
    axes = [x.split(": ", 1) if x.startswith(_AXES) else ["", x] for x in lines]
    if len({body for _, body in axes}) == 1:
        label = " and ".join(a for a, _ in axes if a)
        return [_row("Output size", label), _block([_chain(axes[0][1])])]
    items = [(f"<span style='color: {MUTED};'>{a}:</span><br>" if a else "") + _chain(body) for a, body in axes]
    return [_row("Output size", ""), _block(items)]


def node_html(info: NodeInfo | None) -> str:
    """Output shape, size formula, receptive field, parameters, FLOPs and memory of one layer."""
    if info is None or info.output_shape is None:
        return "<i>Nothing to compute until the error above is fixed.</i>" if info else ""
    params_lines = [x for x in info.formula if x.startswith("params")]
    size_lines = [x for x in info.formula if not x.startswith("params") and not x.startswith("input ")]
    rows = [_row("Output shape", f"<b>{fmt.short_shape(info.output_shape)}</b>"
                 f" &nbsp;<span style='color: {MUTED};'>{fmt.keras_shape(info.output_shape)}</span>")]
    if size_lines:
        rows += _size_rows(size_lines)
    if info.receptive_field is not None:
        rows.append(_row("Receptive field", escape(info.receptive_field.text())))
    else:
        rows.append(_row("Receptive field", f"undefined: {escape(info.rf_note or 'no spatial axes')}"))
    rows.append(_row("Parameters", f"<b>{fmt.count(info.params)}</b> ({fmt.count(info.trainable)} trainable, "
                                   f"{fmt.count(info.non_trainable)} non-trainable)"))
    if params_lines:
        rows.append(_block([_chain(x) for x in params_lines]))
    rows.append(_row("FLOPs", f"{_flops(info.flops)} per sample"))
    rows.append(_row("Activations", f"{fmt.size_bytes(info.memory)} per sample (float32)"))
    return f"<table cellspacing='0' width='100%'>{''.join(rows)}</table>"


def node_error_html(info: NodeInfo | None, graph: LayerGraph, inference: GraphInference) -> str:
    """The layer's error in words: its own, or the upstream one with a link to that layer."""
    if info is None or info.error is None:
        return ""
    if info.root_error:
        return f"<b>Error:</b> {escape(info.error)}"
    culprit = graph.by_name(info.culprit)
    if culprit is None:
        return f"<b>Not computed:</b> {escape(info.error)}"
    root = inference.get(culprit.id)
    why = f": {escape(root.error.removeprefix(culprit.name + ': '))}" if root and root.error else ""
    return (f"<b>Not computed:</b> the error is upstream in "
            f"<a href='node:{culprit.id}'>{escape(culprit.name)}</a>{why}")


def multi_html(ids: list[str], graph: LayerGraph, inference: GraphInference) -> str:
    """Totals over several selected layers, or a hint when none is selected."""
    if not ids:
        n = len(graph.nodes)
        return (f"<p><b>No layer selected.</b></p><p>Click a layer on the canvas or a row of the summary to "
                f"inspect and edit it.</p><p style='color: {MUTED};'>The model has {n} layer{'s' if n != 1 else ''}, "
                f"{fmt.count(inference.total_params)} parameters.</p>")
    infos = [inference[i] for i in ids if i in inference]
    bad = [graph.nodes[i].name for i in ids if i in inference and inference[i].error]
    trainable = sum(i.trainable for i in infos)
    total = sum(i.params for i in infos)
    flops = sum(i.flops for i in infos)
    rows = [
        _row("Parameters", f"<b>{fmt.count(total)}</b> ({fmt.count(trainable)} trainable, "
                           f"{fmt.count(total - trainable)} non-trainable)"),
        _row("FLOPs", f"{_flops(flops)} per sample"),
        _row("Activations", f"{fmt.size_bytes(sum(i.memory for i in infos))} per sample (float32)"),
    ]
    if bad:
        rows.append(_row("Errors", f"<span style='color: #c62828;'>{escape(', '.join(bad))}</span>"))
    names = ", ".join(graph.nodes[i].name for i in ids[:12]) + (", …" if len(ids) > 12 else "")
    return (f"<p><b>{len(ids)} layers selected</b></p><p style='color: {MUTED};'>{escape(names)}</p>"
            f"<table cellspacing='0'>{''.join(rows)}</table>")
