"""``cnnstudio maximize MODEL --layer L --channel C --out DIR``: the picture a channel wants to see, headless.

MODEL is a ``.keras`` / ``.h5`` model or a project with a trained run (as for ``cnnstudio
probe``), preprocessed as the project says or, for a bare model, as its family expects
(``--preprocess MODE`` sets the scaling). Gradient ascent on the input, with the studio's
regularisers and defaults (:mod:`cnnstudio.ml.probing.maximize`), maximises channel C of
layer L (its mean over the map, or ``--unit ROW,COL`` of it), or with ``--class K`` the
output's class K (its pre-softmax logit). Writes into DIR ``maximize_<target>.png`` (the
picture as displayed, the preprocessing undone, enlarged with sharp pixels) and
``maximize_<target>.npy`` (the model input itself, (H, W, C) float32), and prints where.
"""

from __future__ import annotations

import re
from pathlib import Path

from cnnstudio.core.settings import PREPROCESSING

from . import CLIError, add_trust_code, untrusted
from .probe import PICTURE_SIDE, _open_model, _pixel
from .quiet import tensorflow_chatter_hidden


def register(subparsers) -> None:
    """Add the ``maximize`` subcommand."""
    from cnnstudio.ml.probing.maximize_spec import MAXIMIZE

    p = subparsers.add_parser("maximize", help="activation maximisation: the picture a channel or class wants to see",
                              description=__doc__.splitlines()[0].split(": ", 1)[1])
    p.add_argument("model", help="trained model (.keras, .h5) or project (.cnnproj) with a trained run")
    p.add_argument("--layer", help="layer whose channel to maximise (not with --class)")
    p.add_argument("--channel", type=int, default=0, metavar="C", help="channel (unit of a Dense layer; default: 0)")
    p.add_argument("--unit", type=_pixel, default=None, metavar="ROW,COL",
                   help="maximise this one position of the map instead of the map's mean")
    p.add_argument("--class", dest="class_index", type=int, default=None, metavar="K",
                   help="maximise the output's class K instead of a layer's channel")
    p.add_argument("--output", type=int, default=0, metavar="N", help="which output of a model with several (default: 0)")
    for name in ("steps", "seed"):
        param = MAXIMIZE.get(name)
        p.add_argument(f"--{name}", type=int, default=param.default, metavar="N",
                       help=f"{param.doc} (default: {param.default})")
    p.add_argument("--preprocess", choices=PREPROCESSING.get("scale").choices, metavar="MODE",
                   help="pixel scaling: " + ", ".join(PREPROCESSING.get("scale").choices)
                   + " (default: the project's, or what the model's family expects)")
    p.add_argument("--out", required=True, help="folder to write the results into (created if needed)")
    add_trust_code(p)
    p.set_defaults(run=run)


def run(args) -> int:
    """Maximise the chosen channel or class of ``args.model`` and write the picture and input into ``args.out``."""
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise CLIError(f"{out} exists and is not a folder")
    if (args.layer is None) == (args.class_index is None):
        raise CLIError("give --layer L (with --channel C) or --class K")
    with tensorflow_chatter_hidden():
        import numpy as np

        from cnnstudio.core.params import ParamError
        from cnnstudio.ml.live.pipeline import LiveError
        from cnnstudio.ml.model.keras_io import UntrustedCodeError
        from cnnstudio.ml.probing.inputs import ProbeInputError
        from cnnstudio.ml.probing.maximize_spec import Goal, MaximizeSettings
        from cnnstudio.ml.probing.mosaic import enlarge, save_png
        from cnnstudio.ml.probing.session import ProbeSession

        try:
            settings = MaximizeSettings.default().replace(steps=args.steps, seed=args.seed)
            model, preprocessing, classes, graph, why = _open_model(args.model, args.trust_code)
            if args.preprocess:
                preprocessing, why = preprocessing.replace(scale=args.preprocess), ""
            session = ProbeSession(model, preprocessing, classes, graph)
            session.choose_output(args.output)
            if args.class_index is not None:
                goal = Goal(None, (args.class_index,))
            else:
                goal = Goal(args.layer, (args.channel,), args.unit)
            result = session.maximize(goal, settings)
            out.mkdir(parents=True, exist_ok=True)
            stem = "maximize_" + re.sub(r"[^A-Za-z0-9_.-]", "_", _stem(goal))
            save_png(out / f"{stem}.png", enlarge(result.pictures[0], PICTURE_SIDE))
            np.save(out / f"{stem}.npy", result.inputs[0])
        except UntrustedCodeError as exc:
            raise untrusted(exc) from None
        except (ProbeInputError, LiveError, ParamError, ValueError) as exc:
            raise CLIError(str(exc).splitlines()[0]) from None
        except OSError as exc:
            raise CLIError(f"cannot write into {out}: {exc}") from None
    print(f"{goal.text(0, session.class_names)}: {result.start[0]:.4g} -> {result.activations[0]:.4g} "
          f"after {result.steps} steps; wrote {out / (stem + '.png')} and {out / (stem + '.npy')}")
    if why:
        print(f"scaling {session.settings.scale}: {why}")
    return 0


def _stem(goal) -> str:
    """The files' name: ``class3``, ``conv2_ch5``, ``conv2_ch5_unit3-4``."""
    if goal.layer is None:
        return f"class{goal.channels[0]}"
    unit = f"_unit{goal.unit[0]}-{goal.unit[1]}" if goal.unit is not None else ""
    return f"{goal.layer}_ch{goal.channels[0]}{unit}"
