"""``cnnstudio probe MODEL IMAGE [--layer NAME] --out DIR``: look inside a trained model, headless.

MODEL is a ``.keras`` / ``.h5`` model or a project with a trained run (its newest run's best
checkpoint). The image is read as RGB and preprocessed as the project says; for a bare
model, from its input shape (size, grey or RGB, values scaled to 0..1). Writes into DIR:
``activations_<layer>.npy`` (H, W, C), ``feature_maps.png`` (the layer's mosaic),
``gradcam.png`` (Grad-CAM over the image), ``saliency.png`` and ``predictions.json`` (top-k).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from cnnstudio.core.project import SUFFIX, ProjectError, load_project

from . import CLIError
from .quiet import tensorflow_chatter_hidden

#: Smallest side of the PNGs written (small model inputs are enlarged, pixels kept sharp).
PICTURE_SIDE = 256
GAP_RGB = (58, 63, 75)  # between feature-map tiles, as the studio draws them


def register(subparsers) -> None:
    """Add the ``probe`` subcommand."""
    p = subparsers.add_parser("probe", help="feature maps, Grad-CAM, saliency and top-k predictions for one image",
                              description=__doc__.splitlines()[0].split(": ", 1)[1])
    p.add_argument("model", help=f"trained model (.keras, .h5) or project ({SUFFIX}) with a trained run")
    p.add_argument("image", help="image file (png, jpg, bmp, webp...)")
    p.add_argument("--layer", help="layer whose feature maps to write (default: the last convolution)")
    p.add_argument("--out", required=True, help="folder to write the results into (created if needed)")
    p.add_argument("--top", type=int, default=5, help="how many predictions to list (default: 5)")
    p.set_defaults(run=run)


def _open_model(path: str):
    """(keras model, preprocessing settings, class names, graph or None) for MODEL."""
    from cnnstudio.ml.probe_inputs import latest_checkpoint, load_model, preprocessing_for

    p = Path(path)
    if p.suffix.lower() == SUFFIX:
        try:
            project = load_project(p)
        except ProjectError as exc:
            raise CLIError(str(exc)) from None
        checkpoint = latest_checkpoint(project)
        if checkpoint is None:
            raise CLIError(f"{p.name} has no trained run yet: train it first (cnnstudio train {p})")
        return load_model(checkpoint), project.preprocessing, project.classes, project.graph
    model = load_model(p)
    return model, preprocessing_for(tuple(model.inputs[0].shape[1:])), [], None


def run(args) -> int:
    """Probe ``args.image`` with ``args.model`` and write the pictures and numbers into ``args.out``."""
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise CLIError(f"{out} exists and is not a folder")
    if args.top < 1:
        raise CLIError("--top must be at least 1")
    with tensorflow_chatter_hidden():
        from cnnstudio.ml.probe_inputs import ProbeInputError, read_rgb

        try:
            model, settings, classes, graph = _open_model(args.model)
            image = read_rgb(args.image)
            report = probe_to_folder(model, image, settings, classes, graph, args.layer, out, args.top)
        except ProbeInputError as exc:
            raise CLIError(str(exc)) from None
        except OSError as exc:
            raise CLIError(f"cannot write into {out}: {exc}") from None
    best = report["top_k"][0]
    print(f"{Path(args.image).name}: {best['label']} ({best['probability']:.1%}); "
          f"layer {report['layer']} {'x'.join(map(str, report['activation_shape']))}; wrote {out}")
    return 0


def probe_to_folder(model, image, settings, classes, graph, layer, out: Path, top: int) -> dict:
    """Run every headless probe on one RGB image and write the files; returns predictions.json's content."""
    import numpy as np

    from cnnstudio.ml import attribution
    from cnnstudio.ml.mosaic import colorize, enlarge, overlay, save_png, tile_mosaic
    from cnnstudio.ml.preprocess import display_image, preprocess
    from cnnstudio.ml.probe_inputs import ProbeInputError
    from cnnstudio.ml.live import as_probabilities
    from cnnstudio.ml.probes import Prober, top_k

    try:
        prober = Prober(model, graph, classes)
    except ValueError as exc:
        raise ProbeInputError(str(exc)) from None
    names = prober.layer_names
    layer = layer or prober.last_conv_layer or (names[-1] if names else None)
    if layer is None:
        raise ProbeInputError(f"{model.name} has no layer with feature maps to probe")
    if layer not in names:
        raise ProbeInputError(f"--layer {layer}: no such layer with feature maps; choose one of {', '.join(names)}")
    x = preprocess(image, settings)
    result = prober.run(x, [layer])
    acts = result.activations[layer]
    out.mkdir(parents=True, exist_ok=True)
    np.save(out / f"activations_{re.sub(r'[^A-Za-z0-9_.-]', '_', layer)}.npy", acts)
    mosaic = tile_mosaic(acts if acts.ndim == 3 else acts[None], "per_map", gap=1)
    maps_picture = colorize(mosaic.image, "viridis")
    maps_picture[mosaic.gap_mask()] = GAP_RGB
    save_png(out / "feature_maps.png", enlarge(maps_picture, 2 * PICTURE_SIDE))
    picture = display_image(x, settings)
    predictions = top_k(as_probabilities(result.probabilities), top, prober.class_names)  # logits -> softmax
    cam_layer = prober.last_conv_layer
    report = {"model": model.name, "layer": layer, "activation_shape": list(acts.shape),
              "top_k": [{"index": p.index, "label": p.label, "probability": p.probability} for p in predictions]}
    if cam_layer is not None:
        cam = attribution.grad_cam(prober, x, layer=cam_layer)
        save_png(out / "gradcam.png", enlarge(overlay(picture, cam.heat), PICTURE_SIDE))
        report.update(gradcam_layer=cam_layer, explained_class=cam.class_index)
    sal = attribution.saliency(prober, x)
    save_png(out / "saliency.png", enlarge(colorize(sal.heat, "inferno"), PICTURE_SIDE))
    (out / "predictions.json").write_text(json.dumps(report, indent=1), encoding="utf-8")
    return report

