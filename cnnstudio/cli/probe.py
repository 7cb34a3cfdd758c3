"""``cnnstudio probe MODEL IMAGE [--layer NAME] --out DIR``: look inside a trained model, headless.

MODEL is a ``.keras`` / ``.h5`` model or a project with a trained run (its newest run's best
checkpoint). The image is read as RGB and preprocessed as the project says; for a bare
model, from its input shape (size, grey or RGB) and its family (a keras.applications network
gets the scaling it was trained with and, as an ImageNet classifier, ImageNet's class names;
any other model 0..1). ``--preprocess MODE`` sets the scaling instead. Writes into DIR:
``activations_<layer>.npy`` (H, W, C), ``feature_maps.png`` (the layer's mosaic),
``gradcam.png`` (Grad-CAM over the image), ``saliency.png`` and ``predictions.json`` (the
output's kind, and top-k for a classifier or a summary otherwise). A segmentation's or an
autoencoder's output is also drawn, as ``output.png``. ``--attribution M,M...`` chooses the
attributions written instead (``METHOD.png`` each): gradcam, saliency, smoothgrad, occlusion,
guided (guided backprop, drawn as the signed gradient), guided_gradcam and integrated
(integrated gradients from ``--baseline`` in ``--steps``; how well they add up goes in
predictions.json).

Any model works: ``--output N`` picks one of several outputs; ``--class C`` and ``--pixel
ROW,COL`` choose what the attributions explain (by default the predicted class, a map's most
common class over all its pixels, or the mean of an image or of values). An attribution
that is not defined for the model (no gradient path) is said in one line; the rest is written.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

from cnnstudio.core.project import SUFFIX, ProjectError, load_project
from cnnstudio.core.settings import PREPROCESSING

from . import CLIError, add_trust_code, untrusted
from .quiet import tensorflow_chatter_hidden

#: Smallest side of the PNGs written (small model inputs are enlarged, pixels kept sharp).
PICTURE_SIDE = 256
#: A bare model that takes images of any size gets the image's own size in multiples of this (a
#: U-Net halves its maps up to five times) and at most OPEN_SIZE_MAX a side.
OPEN_SIZE_STEP, OPEN_SIZE_MAX = 32, 512
GAP_RGB = (58, 63, 75)  # between feature-map tiles, as the studio draws them


def register(subparsers) -> None:
    """Add the ``probe`` subcommand."""
    p = subparsers.add_parser("probe", help="feature maps, Grad-CAM, saliency and predictions for one image",
                              description=__doc__.splitlines()[0].split(": ", 1)[1])
    p.add_argument("model", help=f"trained model (.keras, .h5) or project ({SUFFIX}) with a trained run")
    p.add_argument("image", help="image file (png, jpg, bmp, webp...)")
    p.add_argument("--layer", help="layer whose feature maps to write (default: the last convolution)")
    p.add_argument("--out", required=True, help="folder to write the results into (created if needed)")
    p.add_argument("--top", type=int, default=5, help="how many predictions to list (default: 5)")
    p.add_argument("--preprocess", choices=PREPROCESSING.get("scale").choices, metavar="MODE",
                   help="pixel scaling: " + ", ".join(PREPROCESSING.get("scale").choices)
                   + " (default: the project's, or what the model's family expects)")
    p.add_argument("--output", type=int, default=0, metavar="N",
                   help="which output of a model with several to probe (default: 0)")
    p.add_argument("--class", dest="target_index", type=int, default=None, metavar="C",
                   help="class (a map's class, a unit of values) the attributions explain (default: see above)")
    p.add_argument("--pixel", type=_pixel, default=None, metavar="ROW,COL",
                   help="the pixel of a per-pixel output the attributions explain")
    p.add_argument("--attribution", type=_methods, default=("gradcam", "saliency"), metavar="M[,M...]",
                   help="attributions to write, of " + ", ".join(METHODS) + " (default: gradcam,saliency)")
    p.add_argument("--baseline", choices=BASELINES, default="black",
                   help="integrated gradients' baseline (default: black; zero: the model input 0)")
    p.add_argument("--steps", type=int, default=48, metavar="N",
                   help="integrated gradients' steps from the baseline (default: 48)")
    add_trust_code(p)
    p.set_defaults(run=run)


#: The attribution methods and integrated gradients' baselines (as ml.probing.attribution names them;
#: listed here so that ``--help`` needs no TensorFlow).
METHODS = ("gradcam", "saliency", "smoothgrad", "occlusion", "guided", "guided_gradcam", "integrated")
BASELINES = ("black", "grey", "blur", "noise", "zero")


def _methods(text: str) -> tuple[str, ...]:
    names = tuple(dict.fromkeys(n.strip() for n in text.split(",") if n.strip()))
    wrong = [n for n in names if n not in METHODS]
    if wrong or not names:
        raise argparse.ArgumentTypeError(f"{', '.join(wrong) or repr(text)}: choose from {', '.join(METHODS)}")
    return names


def _pixel(text: str) -> tuple[int, int]:
    try:
        row, col = (int(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not ROW,COL") from None
    return row, col


def _open_model(path: str, trust_code: bool):
    """(keras model, preprocessing settings, class names, graph or None, how the scaling was chosen)
    for MODEL (a bare model's settings have no size where its input leaves it open: see :func:`_open_size`)."""
    from cnnstudio.ml.model.pretrained import class_names_for
    from cnnstudio.ml.probing.inputs import latest_checkpoint, load_model, model_preprocessing

    p = Path(path)
    if p.suffix.lower() == SUFFIX:
        try:
            project = load_project(p)
        except ProjectError as exc:
            raise CLIError(str(exc)) from None
        checkpoint = latest_checkpoint(project)
        if checkpoint is None:
            raise CLIError(f"{p.name} has no trained run yet: train it first (cnnstudio train {p})")
        return load_model(checkpoint, trust_code), project.preprocessing, project.classes, project.graph, ""
    model = load_model(p, trust_code)
    settings, why = model_preprocessing(model)
    return model, settings, class_names_for(model), None, why


def run(args) -> int:
    """Probe ``args.image`` with ``args.model`` and write the pictures and numbers into ``args.out``."""
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise CLIError(f"{out} exists and is not a folder")
    if args.top < 1:
        raise CLIError("--top must be at least 1")
    if not 1 <= args.steps <= 4096:
        raise CLIError("--steps must be 1 to 4096")
    with tensorflow_chatter_hidden():
        from cnnstudio.ml.probing.outputs import Target
        from cnnstudio.ml.model.keras_io import UntrustedCodeError
        from cnnstudio.ml.probing.inputs import ProbeInputError, read_rgb

        try:
            model, settings, classes, graph, why = _open_model(args.model, args.trust_code)
            if args.preprocess:
                settings, why = settings.replace(scale=args.preprocess), ""
            image = read_rgb(args.image)
            if graph is None and None in tuple(model.inputs[0].shape[1:3]):
                settings = settings.replace(size=_open_size(image.shape))
            report = probe_to_folder(model, image, settings, classes, graph, args.layer, out, args.top,
                                     args.output, Target(args.target_index, args.pixel), args.attribution,
                                     {"baseline": args.baseline, "steps": args.steps})
        except UntrustedCodeError as exc:
            raise untrusted(exc) from None
        except ProbeInputError as exc:
            raise CLIError(str(exc)) from None
        except OSError as exc:
            raise CLIError(f"cannot write into {out}: {exc}") from None
    if report["output"]["kind"] == "classes":
        best = report["top_k"][0]
        said = f"{best['label']} ({best['probability']:.1%})"
    else:
        said = f"output {report['output']['text']}: {report['summary']}"
    print(f"{Path(args.image).name}: {said}; "
          f"layer {report['layer']} {'x'.join(map(str, report['activation_shape']))}; wrote {out}")
    for method, reason in report.get("undefined", {}).items():
        print(f"{method}: not defined here: {reason}")
    if why:
        print(f"scaling {settings.scale}: {why}")
    return 0


def _open_size(image_shape) -> list[int]:
    """The size a bare model that takes any size probes an image at: its own, in whole steps."""
    return [min(OPEN_SIZE_MAX, max(OPEN_SIZE_STEP, int(n) // OPEN_SIZE_STEP * OPEN_SIZE_STEP))
            for n in image_shape[:2]]


def probe_to_folder(model, image, settings, classes, graph, layer, out: Path, top: int,
                    output: int = 0, target=None, methods=("gradcam", "saliency"), options=None) -> dict:
    """Run every headless probe on one RGB image and write the files; returns predictions.json's content.

    ``output`` is the model output probed, ``target`` what the attributions explain (None: the default),
    ``methods`` the attributions written, ``options`` integrated gradients' ``baseline`` and ``steps``.
    """
    import numpy as np

    from cnnstudio.ml.probing.mosaic import colorize, enlarge, save_png, tile_mosaic
    from cnnstudio.ml.data.preprocess import preprocess
    from cnnstudio.ml.probing.inputs import ProbeInputError
    from cnnstudio.ml.probing.prober import Prober

    try:
        prober = Prober(model, graph, classes, output, settings.size)
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
    report = {"model": model.name, "preprocessing": settings.scale, "layer": layer,
              "activation_shape": list(acts.shape)}
    report.update(_output_report(prober, result.output, out, top))
    try:
        target = prober.resolve_target(x, target)
    except ValueError as exc:  # a --class or --pixel the output does not have
        raise ProbeInputError(str(exc)) from None
    report.update(_write_attributions(prober, x, settings, target, out, methods, options or {}))
    (out / "predictions.json").write_text(json.dumps(report, indent=1), encoding="utf-8")
    return report


def _output_report(prober, values, out: Path, top: int) -> dict:
    """The probed output in predictions.json: its kind, then top-k or a summary; ``output.png`` if it is a picture."""
    from cnnstudio.ml.live.pipeline import as_probabilities
    from cnnstudio.ml.probing.mosaic import enlarge, save_png
    from cnnstudio.ml.probing.outputs import class_shares, output_picture, summary
    from cnnstudio.ml.probing.prober import top_k

    o = prober.output
    report = {"output": {"index": o.index, "name": o.name, "kind": o.kind, "shape": list(o.shape), "text": o.text()}}
    if o.kind == "classes":
        predictions = top_k(as_probabilities(values), top, prober.class_names)  # logits -> softmax
        report["top_k"] = [{"index": p.index, "label": p.label, "probability": p.probability} for p in predictions]
        return report
    report["summary"] = summary(o, values, prober.class_names)
    if o.kind == "map":
        report["class_shares"] = [float(v) for v in class_shares(values)]
    if values.size <= 64:  # a regression's few numbers; larger outputs go in output.png
        report["values"] = [float(v) for v in values.ravel()]
    picture = output_picture(o, values)
    if picture is not None:
        save_png(out / "output.png", enlarge(picture, PICTURE_SIDE))
    return report


def _write_attributions(prober, x, settings, target, out: Path, methods=("gradcam", "saliency"),
                        options=None) -> dict:
    """The attributions ``methods`` of ``target`` as PNGs (``METHOD.png``: Grad-CAM over the image, guided
    ones as the signed gradient, the others as heatmaps); what they explain, and why any is not defined."""
    from cnnstudio.ml.probing import attribution
    from cnnstudio.ml.probing.mosaic import colorize, enlarge, overlay, save_png, signed_picture
    from cnnstudio.ml.probing.outputs import AttributionUndefined, target_text
    from cnnstudio.ml.data.preprocess import display_image

    options = options or {}
    report = {"explained": target_text(prober.output, target, prober.class_names)}
    undefined = {}
    for method in methods:
        extra = {}
        if method == "integrated":
            extra = {"baseline": options.get("baseline", "black"), "steps": options.get("steps", 48),
                     "scale": settings.scale}
        try:
            found = attribution.attribute(prober, x, method, target, **extra)
        except AttributionUndefined as exc:
            undefined[method] = str(exc)
            continue
        if method == "gradcam":
            picture = overlay(display_image(x, settings), found.heat)
            report.update(gradcam_layer=found.layer, explained_class=found.class_index)
        elif method in ("guided", "guided_gradcam"):
            picture = signed_picture(found.raw)
        else:
            picture = colorize(found.heat, "inferno")
        save_png(out / f"{method}.png", enlarge(picture, PICTURE_SIDE))
        if found.note:
            report[f"{method}_note"] = found.note
    if undefined:
        report["undefined"] = undefined
    return report
