"""Which input pixels a prediction depends on: saliency, SmoothGrad, Grad-CAM, occlusion, guided
backprop, guided Grad-CAM and integrated gradients.

Each method takes a :class:`~cnnstudio.ml.probing.prober.Prober` and one preprocessed image and
returns an :class:`Attribution`: a heatmap at the model's input size scaled to 0..1, the
:class:`~cnnstudio.ml.probing.outputs.Target` it explains (by default the predicted class, a map's
most common class summed over its pixels, the mean of an image or of values) and the
unscaled map. Where a method is not defined (no convolution for Grad-CAM, a layer that does
not lead to the probed output) it raises :class:`~cnnstudio.ml.probing.outputs.AttributionUndefined`.
:func:`effective_field` is the same idea for one unit of a layer instead of a class.

- saliency: |d score / d pixel|, the largest over colour channels (Simonyan et al. 2014);
- SmoothGrad: the gradient averaged over noisy copies of the image (Smilkov et al. 2017);
- Grad-CAM: the layer's maps weighted by their average gradient, ReLU (Selvaraju et al. 2017);
- occlusion: the drop in the target's score (a class's probability) when a patch is covered up
  (Zeiler & Fergus 2014);
- guided backprop: the gradient through ReLUs that pass back only positive gradients where their
  input was positive (Springenberg et al. 2015), on a clone of the model (:mod:`.guided`);
- guided Grad-CAM: guided backprop times the Grad-CAM map (Selvaraju et al. 2017);
- integrated gradients: the gradient averaged along the straight path from a baseline image to the
  image, times their difference (Sundararajan et al. 2017); the attributions add up to the score's
  change from the baseline (completeness), which :attr:`Attribution.note` reports.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cnnstudio.ml.probing.mosaic import normalize, resize_map
from cnnstudio.ml.probing.outputs import AttributionUndefined, Target, resolve, target_scores, target_weights
from cnnstudio.ml.probing.prober import Prober

METHODS = ("saliency", "smoothgrad", "gradcam", "occlusion", "guided", "guided_gradcam", "integrated")
TITLES = {"saliency": "Saliency", "smoothgrad": "SmoothGrad", "gradcam": "Grad-CAM", "occlusion": "Occlusion",
          "guided": "Guided backprop", "guided_gradcam": "Guided Grad-CAM", "integrated": "Integrated gradients"}
#: Integrated gradients' baselines: an all-black, an all-grey image, the image blurred, uniform noise,
#: or the model input 0 (what the preprocessing maps to zero).
BASELINES = ("black", "grey", "blur", "noise", "zero")
DEFAULT_STEPS = 48


@dataclass(frozen=True)
class Attribution:
    """A heatmap explaining one target (a class, a pixel, the mean) of the probed output for one image."""

    method: str
    heat: np.ndarray  # (H, W) at the model input size, 0..1
    target: Target
    raw: np.ndarray  # the map before scaling (Grad-CAM: at the layer's resolution)
    layer: str = ""  # the layer Grad-CAM used
    note: str = ""  # integrated gradients: how well the attributions add up (completeness)

    @property
    def class_index(self) -> int:
        """The class (map channel, unit) explained; -1 for the output's mean."""
        return -1 if self.target.index is None else self.target.index


def _pixel_map(grads: np.ndarray) -> np.ndarray:
    return np.abs(grads).max(axis=-1)


def saliency(prober: Prober, x: np.ndarray, target: Target | int | None = None) -> Attribution:
    """Vanilla gradient saliency of ``target`` (default: see :meth:`Prober.resolve_target`)."""
    c = prober.resolve_target(x, target)
    raw = _pixel_map(prober.input_gradients(x, c)[0])
    return Attribution("saliency", normalize(raw), c, raw)


def smoothgrad(prober: Prober, x: np.ndarray, target: Target | int | None = None, samples: int = 16,
               noise: float = 0.15, seed: int = 0) -> Attribution:
    """SmoothGrad: gradients averaged over ``samples`` copies with Gaussian noise of ``noise`` x the value range."""
    c = prober.resolve_target(x, target)
    x = prober.batch(x)[0]
    sigma = noise * (float(x.max() - x.min()) or 1.0)
    rng = np.random.default_rng(seed)
    noisy = x[None] + rng.normal(0.0, sigma, (samples,) + x.shape).astype(np.float32)
    raw = _pixel_map(prober.input_gradients(noisy, c).mean(axis=0))
    return Attribution("smoothgrad", normalize(raw), c, raw)


def grad_cam(prober: Prober, x: np.ndarray, target: Target | int | None = None,
             layer: str | None = None) -> Attribution:
    """Grad-CAM on ``layer`` (default: :attr:`Prober.last_conv_layer`) for ``target``."""
    layer = layer or prober.last_conv_layer
    if layer is None:
        raise AttributionUndefined(f"{prober.model.name} has no convolution before output {prober.output.name} "
                                   "for Grad-CAM")
    c = prober.resolve_target(x, target)
    acts, grads = prober.layer_gradients(x, layer, c)
    if acts.ndim != 3:
        raise AttributionUndefined(f"Grad-CAM needs a layer with 2-D maps; {layer} outputs shape {acts.shape}")
    weights = grads.mean(axis=(0, 1))
    raw = np.maximum((acts * weights).sum(axis=-1), 0.0)
    heat = normalize(resize_map(raw, prober.input_shape[:2]))
    return Attribution("gradcam", heat, c, raw, layer)


def _starts(n: int, patch: int, stride: int) -> list[int]:
    starts = list(range(0, max(n - patch, 0) + 1, stride))
    if starts[-1] != max(n - patch, 0):  # cover the last rows/columns too
        starts.append(max(n - patch, 0))
    return starts


def occlusion(prober: Prober, x: np.ndarray, target: Target | int | None = None, patch: int | None = None,
              stride: int | None = None, batch_size: int = 64) -> Attribution:
    """Occlusion sensitivity: cover a ``patch`` x ``patch`` square with the image's median at every
    ``stride`` and record how much the target's score (a class's probability) drops, averaged per pixel."""
    x = prober.batch(x)[0]
    h, w = x.shape[:2]
    patch = patch or max(2, min(h, w) // 8)
    stride = stride or max(1, patch // 2)
    base = prober.run(x).output
    c = resolve(prober.output, base, target)
    weights = target_weights(prober.output, c)
    base_score = float(target_scores(base[None], weights)[0])
    fill = np.median(x.reshape(-1, x.shape[-1]), axis=0)  # the typical (ground) value: a neutral patch
    spots = [(t, l) for t in _starts(h, patch, stride) for l in _starts(w, patch, stride)]
    drop = np.zeros((h, w), np.float32)
    count = np.zeros((h, w), np.float32)
    for i in range(0, len(spots), batch_size):
        chunk = spots[i:i + batch_size]
        copies = np.repeat(x[None], len(chunk), axis=0)
        for j, (t, l) in enumerate(chunk):
            copies[j, t:t + patch, l:l + patch] = fill
        scores = target_scores(prober.predict(copies, batch_size), weights)
        for (t, l), p in zip(chunk, scores):
            drop[t:t + patch, l:l + patch] += base_score - p
            count[t:t + patch, l:l + patch] += 1
    raw = drop / np.maximum(count, 1)
    return Attribution("occlusion", normalize(np.maximum(raw, 0.0)), c, raw)


def guided_backprop(prober: Prober, x: np.ndarray, target: Target | int | None = None) -> Attribution:
    """Guided backpropagation of ``target``: ``raw`` is the signed gradient (H, W, C) through guided ReLUs,
    ``heat`` its largest |value| over colour channels. Raises ``AttributionUndefined`` for a model with no ReLU."""
    c = prober.resolve_target(x, target)
    raw = prober.guided().input_gradients(x, c)[0]
    return Attribution("guided", normalize(_pixel_map(raw)), c, raw)


def guided_grad_cam(prober: Prober, x: np.ndarray, target: Target | int | None = None,
                    layer: str | None = None) -> Attribution:
    """Guided Grad-CAM: the guided backprop gradient (H, W, C) weighted by the Grad-CAM map on ``layer``."""
    cam = grad_cam(prober, x, target, layer)
    guided = guided_backprop(prober, x, cam.target)
    raw = guided.raw * resize_map(cam.raw, prober.input_shape[:2])[..., None]
    return Attribution("guided_gradcam", normalize(_pixel_map(raw)), cam.target, raw, cam.layer)


def baseline_image(x: np.ndarray, baseline: str, scale: str, seed: int = 0) -> np.ndarray:
    """Integrated gradients' starting image for the preprocessed ``x`` (H, W, C), in the same value space:
    ``black``/``grey`` pixels 0/128 scaled by the preprocessing ``scale``, ``blur`` x blurred over an
    eighth of its size, ``noise`` uniform random pixels, ``zero`` the model input 0."""
    import cv2

    from cnnstudio.ml.data.preprocess import scale_values

    if baseline in ("black", "grey"):
        pixels = np.full(x.shape, 0 if baseline == "black" else 128, np.uint8)
        return scale_values(pixels, scale)
    if baseline == "noise":
        pixels = np.random.default_rng(seed).integers(0, 256, x.shape).astype(np.uint8)
        return scale_values(pixels, scale)
    if baseline == "blur":
        sigma = max(1.0, min(x.shape[:2]) / 8)
        out = cv2.GaussianBlur(np.ascontiguousarray(x, np.float32), (0, 0), sigma, borderType=cv2.BORDER_REFLECT)
        return out.reshape(x.shape)
    if baseline == "zero":
        return np.zeros_like(x)
    raise ValueError(f"unknown baseline {baseline!r}; choose one of {', '.join(BASELINES)}")


def integrated_gradients(prober: Prober, x: np.ndarray, target: Target | int | None = None,
                         baseline: str | np.ndarray = "black", steps: int = DEFAULT_STEPS, scale: str = "0-1",
                         batch_size: int = 32) -> Attribution:
    """Integrated gradients of ``target`` from ``baseline`` (one of :data:`BASELINES`, in the preprocessing
    ``scale``, or an array like ``x``) in ``steps`` steps (the trapezoid rule over ``steps + 1`` points).

    ``raw`` is the signed attribution (H, W, C); it sums to about the score at ``x`` minus the score at
    the baseline, and :attr:`Attribution.note` says how closely (more steps: closer).
    """
    if not 1 <= int(steps) <= 4096:
        raise ValueError(f"integrated gradients takes 1 to 4096 steps, not {steps}")
    c = prober.resolve_target(x, target)
    x = prober.batch(x)[0]
    base = baseline_image(x, baseline, scale) if isinstance(baseline, str) else prober.batch(baseline)[0]
    alphas = np.linspace(0.0, 1.0, int(steps) + 1, dtype=np.float32)
    weights = np.full(len(alphas), 1.0 / steps, np.float32)
    weights[[0, -1]] /= 2  # trapezoid rule
    total = np.zeros(x.shape, np.float64)
    for i in range(0, len(alphas), batch_size):
        a = alphas[i:i + batch_size, None, None, None]
        grads = prober.input_gradients(base[None] + a * (x - base)[None], c)
        total += np.tensordot(weights[i:i + batch_size], grads, axes=1)
    raw = ((x - base) * total).astype(np.float32)
    gap = np.diff(prober.scores(np.stack([base, x]), c))[0]
    got = float(raw.sum())
    error = abs(got - gap) / max(abs(gap), 1e-6)
    note = (f"attributions sum to {got:.4g}; the score rose {gap:.4g} from the {baseline if isinstance(baseline, str) else 'given'} "
            f"baseline ({error:.1%} off{'; more steps would close the gap' if error > 0.05 else ''})")
    return Attribution("integrated", normalize(np.abs(raw.sum(axis=-1))), c, raw, note=note)


def attribute(prober: Prober, x: np.ndarray, method: str, target: Target | int | None = None, **options) -> Attribution:
    """Run attribution ``method`` (one of :data:`METHODS`) by name."""
    fns = {"saliency": saliency, "smoothgrad": smoothgrad, "gradcam": grad_cam, "occlusion": occlusion,
           "guided": guided_backprop, "guided_gradcam": guided_grad_cam, "integrated": integrated_gradients}
    if method not in fns:
        raise ValueError(f"unknown attribution method {method!r}; choose one of {', '.join(METHODS)}")
    return fns[method](prober, x, target, **options)


def effective_field(prober: Prober, x: np.ndarray, layer: str, unit: tuple[int, int],
                    channel: int | None = None) -> np.ndarray:
    """The effective receptive field of a unit: |d unit / d input| summed over colour channels, 0..1.

    (Luo et al. 2016.) ``channel=None`` takes the unit across all the layer's channels.
    """
    grads = prober.unit_gradient(x, layer, unit, channel)
    return normalize(np.abs(grads).sum(axis=-1))
