"""Convolution arithmetic made visible: every sliding-window operation of the lecture, step by step.

:func:`compute` runs one operation (cross-correlation, true convolution, transposed convolution,
max / average pooling, the lecture's 1-D convolution) on a 2-D grid and returns an
:class:`Operation`: the output, the *canvas* the window slides over (the input with its padding,
or for a transposed convolution the input spread out with zeros), the output-size formula with
its numbers, and :meth:`Operation.step` -- for any output position, where the window sits,
what it reads, the elementwise products and their sum.

Conventions (those of TensorFlow / Keras, so the explorer agrees with the layers it teaches):

- "Convolution" in deep learning is cross-correlation: ``out[i, j] = sum K[u, v] A[i*s + u*d, j*s + v*d]``
  on the padded input. True convolution is the same with the kernel rotated by 180 degrees.
- Padding ``'valid'``, ``'same'`` (TensorFlow's rule, the smaller half before), ``'causal'``, or an
  explicit ``p`` (or ``(p_rows, p_cols)``) zeros at both ends. Sizes come from
  :func:`cnnstudio.core.rules.window_axis`.
- Pooling skips padding cells (a max ignores them, an average divides by the real cells only).
- A transposed convolution is shown the way the lecture (Dumoulin & Visin) draws it: the input
  with ``s-1`` zeros inserted between neighbours and ``f-1-p`` zeros at the border, read by the
  kernel rotated by 180 degrees with stride 1. Its size follows Keras' ``Conv2DTranspose``.
- The lecture's 1-D convolution ``s_t = sum_a x_{t-a} w_a``: the weight row is written as the lecture
  prints it, oldest weight first, so the *last* weight (0.5) is ``w_0`` and multiplies the newest
  sample ``x_t`` ("more weight on recent measurements", and the lecture's own
  ``S = x5 w0 + x4 w1 + ... + x0 w5``). That is a cross-correlation with the row as printed; output
  ``o`` is ``s_t`` with ``t`` the newest sample under the window. On the lecture's series it gives
  1.704, 1.815, 1.973, 2.118, ...; the lecture prints 1.80, 1.96, 2.11 for the 2nd to 4th windows
  (within 0.015: its numbers were worked with a slightly different weight row). The other reading,
  ``w_0 = 0.01`` on the newest sample, gives 1.08, 1.19, 1.34, far from any printed value.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .rules import ShapeError, conv_transpose, window_axis

CROSS_CORRELATION = "cross-correlation"
CONVOLUTION = "true convolution"
TRANSPOSED = "transposed convolution"
MAX_POOL = "max pooling"
AVERAGE_POOL = "average pooling"
CONV_1D = "1-D convolution"
MODES = (CROSS_CORRELATION, CONVOLUTION, TRANSPOSED, MAX_POOL, AVERAGE_POOL, CONV_1D)
POOLING = (MAX_POOL, AVERAGE_POOL)

#: The lecture's 6x6 input image (CONVOLUTION chapter).
LECTURE_IMAGE = np.array([[1, 0, 0, 0, 0, 1],
                          [0, 1, 0, 0, 1, 0],
                          [0, 0, 1, 1, 0, 0],
                          [1, 0, 0, 0, 1, 0],
                          [0, 1, 0, 0, 1, 0],
                          [0, 0, 1, 0, 1, 0]], dtype=float)
LECTURE_FILTER_1 = np.array([[1, -1, -1], [-1, 1, -1], [-1, -1, 1]], dtype=float)
LECTURE_FILTER_2 = np.array([[-1, 1, -1], [-1, 1, -1], [-1, 1, -1]], dtype=float)
#: The lecture's 4x4 pooling input (max pooling 2x2 / 2 -> 6 9 / 7 8, average -> 4.5 7 / 4.75 5).
LECTURE_POOL_INPUT = np.array([[2, 4, 7, 4], [6, 6, 9, 8], [3, 4, 8, 3], [7, 5, 3, 6]], dtype=float)
#: The lecture's noisy position track and its smoothing weights (printed order, oldest weight first).
LECTURE_SERIES = np.array([1.00, 1.10, 1.20, 1.40, 1.70, 1.80, 1.90, 2.10, 2.20, 2.40, 2.50])
LECTURE_SMOOTHING_WEIGHTS = np.array([0.01, 0.02, 0.03, 0.04, 0.4, 0.5])

#: Kernel presets by display name.
KERNEL_PRESETS: dict[str, np.ndarray] = {
    "Lecture Filter 1": LECTURE_FILTER_1,
    "Lecture Filter 2": LECTURE_FILTER_2,
    "Identity": np.array([[0, 0, 0], [0, 1, 0], [0, 0, 0]], dtype=float),
    "Horizontal edges": np.array([[1, 1, 1], [0, 0, 0], [-1, -1, -1]], dtype=float),
    "Vertical edges": np.array([[1, 0, -1], [1, 0, -1], [1, 0, -1]], dtype=float),
    "Sobel x": np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], dtype=float),
    "Sobel y": np.array([[-1, -2, -1], [0, 0, 0], [1, 2, 1]], dtype=float),
    "Laplacian": np.array([[0, 1, 0], [1, -4, 1], [0, 1, 0]], dtype=float),
    "Sharpen": np.array([[0, -1, 0], [-1, 5, -1], [0, -1, 0]], dtype=float),
    "Box blur 3x3": np.full((3, 3), 1 / 9),
    "Gaussian blur 3x3": np.array([[1, 2, 1], [2, 4, 2], [1, 2, 1]], dtype=float) / 16,
    "Gaussian blur 5x5": np.outer([1, 4, 6, 4, 1], [1, 4, 6, 4, 1]) / 256.0,
    "Lecture smoothing weights (1-D)": LECTURE_SMOOTHING_WEIGHTS[None, :],
}


def fmt(v: float) -> str:
    """A cell's number as a person writes it: ``3``, ``-0.5``, ``1.815``, ``1.2e+04``."""
    v = float(v)
    if not np.isfinite(v):
        return str(v)
    if abs(v) >= 1e4:
        return f"{v:.3g}"
    text = f"{v:.3f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


@dataclass(frozen=True)
class Step:
    """One window position: what it reads and what it writes.

    Per kernel tap (arrays shaped like the kernel): ``canvas_cells`` (row, col on the canvas),
    ``coords`` (row, col relative to input cell (0, 0); negative or past the end in the padding;
    for a transposed convolution in units of the spread-out input), ``values`` read (0 in padding),
    ``in_padding``; ``weights`` and ``products`` (``None`` for pooling).
    """

    index: int
    out: tuple[int, int]
    canvas_cells: np.ndarray
    coords: np.ndarray
    values: np.ndarray
    in_padding: np.ndarray
    weights: np.ndarray | None
    products: np.ndarray | None
    result: float


@dataclass
class Operation:
    """One operation's result and the geometry needed to replay it window by window."""

    mode: str
    input: np.ndarray
    canvas: np.ndarray        # what the window slides over
    is_input: np.ndarray      # canvas cells holding an input value (not padding, not an inserted zero)
    origin: tuple[int, int]   # canvas cell of input cell (0, 0)
    spacing: tuple[int, int]  # canvas distance between neighbouring input cells (s when transposed)
    weights: np.ndarray | None  # the kernel as applied (rotated for true / transposed convolution)
    window: tuple[int, int]   # kernel or pool size
    stride: tuple[int, int]   # the window's stride on the canvas
    dilation: tuple[int, int]
    output: np.ndarray
    formula: list[str]

    def __len__(self) -> int:
        return int(self.output.size)

    def step(self, index: int) -> Step:
        """The window position that writes output cell number ``index`` (row-major)."""
        if not 0 <= index < self.output.size:
            raise IndexError(f"step {index} is outside 0..{self.output.size - 1}")
        i, j = divmod(index, self.output.shape[1])
        rows = i * self.stride[0] + np.arange(self.window[0]) * self.dilation[0]
        cols = j * self.stride[1] + np.arange(self.window[1]) * self.dilation[1]
        rr, cc = np.meshgrid(rows, cols, indexing="ij")
        cells = np.stack([rr, cc], axis=-1)
        values = self.canvas[rr, cc]
        products = None if self.weights is None else values * self.weights + 0.0  # no -0
        return Step(index, (i, j), cells, cells - np.array(self.origin), values, ~self.is_input[rr, cc],
                    self.weights, products, float(self.output[i, j]))

    def steps(self) -> list[Step]:
        """Every window position, in the order the window moves."""
        return [self.step(k) for k in range(len(self))]

    def output_label(self, out: tuple[int, int]) -> str:
        """``s_6`` for the 1-D convolution (t = the newest sample), ``out[0, 1]`` otherwise."""
        if self.mode == CONV_1D:
            return f"s_{self.time_index(out[1])}"
        return f"out[{out[0]}, {out[1]}]"

    def time_index(self, o: int) -> int:
        """1-D: the index t of the newest sample under window ``o`` (the t of ``s_t``)."""
        return o * self.stride[1] + (self.window[1] - 1) * self.dilation[1] - self.origin[1]

    def weight_labels(self) -> list[str]:
        """1-D: the names of the weight row as printed (``w_5 ... w_0``); else ``[]``."""
        if self.mode != CONV_1D:
            return []
        return [f"w_{self.window[1] - 1 - c}" for c in range(self.window[1])]

    def expression(self, step: Step) -> str:
        """The arithmetic of one step as text: ``1×1 + 0×(-1) + ... = 3``, ``max(2, 4, 6, 6) = 6``."""
        real = ~step.in_padding
        lhs = self.output_label(step.out)
        if self.mode in POOLING:
            vals = [fmt(v) for v in step.values[real]]
            if self.mode == MAX_POOL:
                return f"{lhs} = max({', '.join(vals)}) = {fmt(step.result)}"
            return f"{lhs} = ({' + '.join(vals)}) / {len(vals)} = {fmt(step.result)}"
        def par(v: float) -> str:
            return f"({fmt(v)})" if v < 0 else fmt(v)
        terms = [f"{par(v)}×{par(w)}" for v, w in zip(step.values.ravel(), step.weights.ravel())]
        if self.mode == CONV_1D:
            t = self.time_index(step.out[1])
            names = " + ".join(f"x_{t - (self.window[1] - 1 - c) * self.dilation[1]}·w_{self.window[1] - 1 - c}"
                               for c in range(self.window[1]))
            return f"{lhs} = {names} = {' + '.join(terms)} = {fmt(step.result)}"
        return f"{lhs} = {' + '.join(terms)} = {fmt(step.result)}"


def _pair(v, what: str) -> tuple:
    pair = tuple(v) if isinstance(v, (tuple, list)) else (v, v)
    if len(pair) != 2:
        raise ShapeError(f"{what} needs one value or two (rows, columns), got {v!r}")
    return pair


def _positive(v, what: str) -> tuple[int, int]:
    pair = _pair(v, what)
    if any(int(x) != x or x < 1 for x in pair):
        raise ShapeError(f"{what} must be a whole number of at least 1, got {v!r}")
    return int(pair[0]), int(pair[1])


def _padding(padding) -> tuple:
    if isinstance(padding, str):
        if padding not in ("valid", "same", "causal"):
            raise ShapeError(f"padding must be 'valid', 'same', 'causal' or a number p, got {padding!r}")
        return padding, padding
    pair = _pair(padding, "padding")
    if any(not isinstance(p, (int, np.integer)) or p < 0 for p in pair):
        raise ShapeError(f"explicit padding p must be a whole number >= 0, got {padding!r}")
    return int(pair[0]), int(pair[1])


def _grid(x, what: str) -> np.ndarray:
    a = np.asarray(x, dtype=float)
    if a.ndim != 2 or a.size == 0:
        raise ShapeError(f"the {what} must be a non-empty 2-D grid, got shape {a.shape}")
    if not np.all(np.isfinite(a)):
        raise ShapeError(f"the {what} holds a value that is not a finite number")
    return a


def _size_formula(axis_texts: list[str], out: tuple[int, int], one_d: bool) -> list[str]:
    head = "n: input size, f: window span d(k-1)+1, p: padding, s: stride"
    if one_d:
        return [head, f"length: {axis_texts[1]}"]
    if axis_texts[0] == axis_texts[1]:
        lines = [f"height and width: {axis_texts[0]}"]
    else:
        lines = [f"height: {axis_texts[0]}", f"width: {axis_texts[1]}"]
    return [head] + lines + [f"output: {out[0]} × {out[1]}"]


def _sliding(mode: str, x: np.ndarray, weights, window, stride, dilation, padding) -> Operation:
    """Cross-correlation of ``weights`` (or pooling) over ``x`` padded by ``padding``."""
    outs, pads, texts = [], [], []
    for n, k, s, d, p in zip(x.shape, window, stride, dilation, padding):
        try:
            out, axis_step, text = window_axis(n, k, s, d, p)
        except ShapeError:
            f = d * (k - 1) + 1
            span = "" if d == 1 else f" (spanning {f} with dilation {d})"
            raise ShapeError(f"a window of {k}{span} does not fit an input of {n} with padding {p!r}; "
                             "pad more or use a smaller window") from None
        f = d * (k - 1) + 1
        before = axis_step.padding
        after = p if isinstance(p, int) else max((out - 1) * s + f - n - before, 0)
        outs.append(out)
        pads.append((before, after))
        texts.append(text)
    canvas = np.pad(x, pads)
    is_input = np.pad(np.ones(x.shape, bool), pads)
    rows = (np.arange(outs[0]) * stride[0])[:, None] + (np.arange(window[0]) * dilation[0])[None, :]
    cols = (np.arange(outs[1]) * stride[1])[:, None] + (np.arange(window[1]) * dilation[1])[None, :]
    ri, ci = rows[:, None, :, None], cols[None, :, None, :]
    windows, real = canvas[ri, ci], is_input[ri, ci]
    if mode in POOLING:
        count = real.sum(axis=(2, 3))
        if np.any(count == 0):
            raise ShapeError("a pooling window lies entirely in the padding: use a padding smaller than the window")
        if mode == MAX_POOL:
            output = np.where(real, windows, -np.inf).max(axis=(2, 3))
        else:
            output = np.where(real, windows, 0.0).sum(axis=(2, 3)) / count
    else:
        output = (windows * weights).sum(axis=(2, 3))
    formula = _size_formula(texts, tuple(outs), mode == CONV_1D)
    if any(p != (0, 0) for p in pads):
        axis_pads = f"top {pads[0][0]}, bottom {pads[0][1]}, left {pads[1][0]}, right {pads[1][1]}"
        formula.append(f"padding: {pads[1][0]} before, {pads[1][1]} after" if mode == CONV_1D else f"zeros added: {axis_pads}")
        if mode in POOLING:
            formula.append("pooling skips the padding cells (as Keras does)")
    return Operation(mode, x, canvas, is_input, (pads[0][0], pads[1][0]), (1, 1), weights, tuple(window),
                     tuple(stride), tuple(dilation), output, formula)


def _transposed(x: np.ndarray, kernel: np.ndarray, stride, dilation, padding) -> Operation:
    """Transposed convolution as a stride-1 cross-correlation of the spread-out, bordered input."""
    k = kernel.shape
    outs, befores, texts = [], [], []
    if all(isinstance(p, str) for p in padding):
        if "causal" in padding:
            raise ShapeError("a transposed convolution takes padding 'valid', 'same' or a number p")
        params = {"kernel_size": k, "strides": stride, "dilation_rate": dilation, "padding": padding[0],
                  "output_padding": None, "filters": 1, "use_bias": False}
        math = conv_transpose("Conv2DTranspose", 2, params, [x.shape + (1,)])
        outs = list(math.output_shape[:2])
        texts = math.formula[:2]  # the last line counts parameters
        befores = [window_axis(o, kk, s, d, padding[0])[1].padding for o, kk, s, d in zip(outs, k, stride, dilation)]
    else:
        for n, kk, s, d, p in zip(x.shape, k, stride, dilation, padding):
            f = d * (kk - 1) + 1
            if isinstance(p, str) or p > f - 1:
                raise ShapeError(f"explicit padding of a transposed convolution must be at most f-1 = {f - 1}")
            outs.append((n - 1) * s + f - 2 * p)
            befores.append(p)
            texts.append(f"out = (n-1)*s + f - 2p = ({n}-1)*{s} + {f} - 2*{p} = {outs[-1]}")
    spans = [d * (kk - 1) + 1 for kk, d in zip(k, dilation)]
    borders = [f - 1 - b for f, b in zip(spans, befores)]
    canvas = np.zeros((outs[0] + spans[0] - 1, outs[1] + spans[1] - 1))
    is_input = np.zeros(canvas.shape, bool)
    rows = borders[0] + np.arange(x.shape[0]) * stride[0]
    cols = borders[1] + np.arange(x.shape[1]) * stride[1]
    canvas[np.ix_(rows, cols)] = x
    is_input[np.ix_(rows, cols)] = True
    op = _sliding(CROSS_CORRELATION, canvas, kernel[::-1, ::-1], k, (1, 1), dilation, ("valid", "valid"))
    head = "n: input size, f: kernel span d(k-1)+1, s: stride, p: padding"
    lines = ([f"height and width: {texts[0]}"] if texts[0] == texts[1]
             else [f"height: {texts[0]}", f"width: {texts[1]}"])
    how = (f"spread the input: {stride[0] - 1} zero(s) between rows, {stride[1] - 1} between columns; "
           f"border of f-1-p zeros: {borders[0]} (rows), {borders[1]} (columns); "
           "then slide the kernel rotated 180° with stride 1")
    return Operation(TRANSPOSED, x, canvas, is_input, (borders[0], borders[1]), tuple(stride), op.weights, k,
                     (1, 1), tuple(dilation), op.output, [head] + lines + [f"output: {outs[0]} × {outs[1]}", how])


def compute(mode: str, x, kernel=None, *, pool_size=2, stride=1, padding="valid", dilation=1) -> Operation:
    """Run ``mode`` (one of :data:`MODES`) on the 2-D grid ``x``.

    ``kernel``: the 2-D weights (for the 1-D mode a weight row, printed order); ``pool_size``: the
    pooling window (int or pair); ``stride`` / ``dilation``: int or (rows, columns); ``padding``:
    ``'valid'``, ``'same'``, ``'causal'``, ``p`` or ``(p_rows, p_cols)``. Raises
    :class:`~cnnstudio.core.rules.ShapeError` (a ``ValueError``) with a readable message.
    """
    if mode not in MODES:
        raise ShapeError(f"unknown operation {mode!r}; choose one of {', '.join(MODES)}")
    if mode == CONV_1D:
        x = np.atleast_2d(np.asarray(x, dtype=float))
        kernel = np.atleast_2d(np.asarray(kernel, dtype=float))
        if x.shape[0] != 1 or kernel.shape[0] != 1:
            raise ShapeError("the 1-D convolution takes a single row of input and a single row of weights")
    x = _grid(x, "input")
    stride, dilation, pads = _positive(stride, "stride"), _positive(dilation, "dilation"), _padding(padding)
    if mode in POOLING:
        return _sliding(mode, x, None, _positive(pool_size, "pool size"), stride, dilation, pads)
    kernel = _grid(kernel, "kernel")
    if mode == TRANSPOSED:
        return _transposed(x, kernel, stride, dilation, pads)
    weights = kernel[::-1, ::-1] if mode == CONVOLUTION else kernel
    return _sliding(mode, x, weights, kernel.shape, stride, dilation, pads)


def cross_correlate2d(x, kernel, stride=1, padding="valid", dilation=1) -> np.ndarray:
    """What a deep-learning "convolution" layer computes (one channel, no bias)."""
    return compute(CROSS_CORRELATION, x, kernel, stride=stride, padding=padding, dilation=dilation).output


def convolve2d(x, kernel, stride=1, padding="valid", dilation=1) -> np.ndarray:
    """True (signal-processing) convolution: cross-correlation with the kernel rotated 180°."""
    return compute(CONVOLUTION, x, kernel, stride=stride, padding=padding, dilation=dilation).output


def conv_transpose2d(x, kernel, stride=1, padding="valid", dilation=1) -> np.ndarray:
    """Transposed convolution, sized like Keras' ``Conv2DTranspose`` (one channel, no bias)."""
    return compute(TRANSPOSED, x, kernel, stride=stride, padding=padding, dilation=dilation).output


def max_pool2d(x, pool_size=2, stride=None, padding="valid") -> np.ndarray:
    """Max pooling; ``stride`` defaults to the pool size, as in Keras."""
    return compute(MAX_POOL, x, pool_size=pool_size, stride=stride or pool_size, padding=padding).output


def avg_pool2d(x, pool_size=2, stride=None, padding="valid") -> np.ndarray:
    """Average pooling (padding cells not counted); ``stride`` defaults to the pool size."""
    return compute(AVERAGE_POOL, x, pool_size=pool_size, stride=stride or pool_size, padding=padding).output


def convolve1d(x, weights, stride=1, padding="valid", dilation=1) -> np.ndarray:
    """The lecture's ``s_t = sum_a x_{t-a} w_a``, weights in printed order (the last one is ``w_0``)."""
    return compute(CONV_1D, x, weights, stride=stride, padding=padding, dilation=dilation).output[0]
