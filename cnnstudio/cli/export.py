"""``cnnstudio export PATH --format FORMAT -o OUT``: a Keras script or model, or a deployable model.

PATH is a project or a Keras model file (as for ``summary``). ``--format python`` writes a
readable Keras functional script that rebuilds the model (to stdout without ``-o``), and with
``--weights`` the trained weights beside it (``FILE.weights.h5``, loaded by the script);
``--format keras`` saves the built model as ``.keras`` with its trained weights. Trained
weights are the project's newest run's, or those of the model file itself; where there are
none, the output says the export is the architecture only.

The deploy formats (``savedmodel``, ``tflite``, ``tflite-int8``, ``onnx``; see
:mod:`cnnstudio.ml.model.deploy`) need trained weights, are checked against Keras in their own
runtime on the project's data (or ``--calibration``, which int8 needs for a bare model file)
and print the check's table; an output already there is replaced only with ``--force``, and
an export that fails its check exits 2 and writes nothing.
"""

from __future__ import annotations

import sys
from pathlib import Path

from cnnstudio.core.project import ProjectError
from cnnstudio.ml.model.deploy_formats import FORMATS, existing_outputs, install_hint

from . import CLIError, add_trust_code
from .quiet import tensorflow_chatter_hidden
from .summary import load_any


def register(subparsers) -> None:
    """Add the ``export`` subcommand."""
    p = subparsers.add_parser("export", help="write a Keras script or model, or a checked SavedModel, TFLite or ONNX",
                              description=__doc__.splitlines()[0].split(": ", 1)[1])
    p.add_argument("path", help="project (.cnnproj), .keras, .h5 or Keras JSON file")
    p.add_argument("--format", choices=("python", "keras", *FORMATS), default="python",
                   help="what to write (default: python)")
    p.add_argument("-o", "--output", help="file (savedmodel: folder) to write (python: stdout when left out)")
    p.add_argument("--weights", action="store_true",
                   help="python: also write the trained weights beside the script (FILE.weights.h5)")
    add_trust_code(p)
    p.add_argument("--calibration", metavar="FILE_OR_FOLDER",
                   help="deploy formats: inputs to calibrate int8 and check on (.npz with x, or a folder of images)")
    p.add_argument("--force", action="store_true", help="deploy formats: replace an output that is already there")
    p.set_defaults(run=run)


def run(args) -> int:
    """Export ``args.path`` in ``args.format``."""
    if args.format in FORMATS:
        return run_deploy(args)
    if args.calibration or args.force:
        raise CLIError("--calibration and --force go with the deploy formats (savedmodel, tflite, tflite-int8, onnx)")
    if args.format == "keras" and not args.output:
        raise CLIError("--format keras needs -o FILE.keras")
    to_stdout = not args.output or args.output == "-"
    if args.weights and (args.format != "python" or to_stdout):
        raise CLIError("--weights goes with --format python -o FILE.py (a .keras file always holds its weights)")
    project = load_any(args.path, args.trust_code)
    with tensorflow_chatter_hidden():  # stderr is hidden in here: report after the block
        from cnnstudio.ml.model.builder import BuildError  # loads TensorFlow
        from cnnstudio.ml.model.export import python_code, save_keras, save_python, weights_name
        from cnnstudio.ml.model.weights import ARCHITECTURE_ONLY, trained_weights_file

        weights = trained_weights_file(project)
        try:
            if args.format == "keras":
                report = f"wrote {args.output}: {save_keras(project.graph, args.output, project.name, weights).describe()}"
            elif to_stdout:
                sys.stdout.write(python_code(project.graph, project.name))
                return 0
            else:
                built = save_python(project.graph, args.output, project.name, weights if args.weights else None)
                if built is not None:
                    report = (f"wrote {args.output} and {Path(args.output).with_name(weights_name(args.output))} "
                              f"({built.describe()})")
                elif weights is not None:
                    report = (f"wrote {args.output}: the architecture only; add --weights to write the trained "
                              f"weights from {weights} beside it")
                else:
                    report = f"wrote {args.output}: {ARCHITECTURE_ONLY}"
        except (BuildError, OSError, ProjectError) as exc:
            raise CLIError(f"cannot export {args.path}: {exc}") from None
    print(report, file=sys.stderr)
    return 0


def run_deploy(args) -> int:
    """Export ``args.path`` as a checked deploy format; print the check's table."""
    fmt = FORMATS[args.format]
    if not args.output or args.output == "-":
        raise CLIError(f"--format {fmt.name} needs -o {'FOLDER' if not fmt.suffix else 'FILE' + fmt.suffix}")
    if args.weights:
        raise CLIError("--weights goes with --format python (a deploy format always holds its weights)")
    hint = install_hint(fmt)
    if hint:
        raise CLIError(hint)
    there = existing_outputs(fmt, args.output)  # before TensorFlow loads: a refusal takes no seconds
    if there and not args.force:
        raise CLIError(f"{', '.join(map(str, there))} already exist(s): add --force to replace")
    project = load_any(args.path)
    with tensorflow_chatter_hidden():
        from cnnstudio.ml.model.builder import BuildError  # loads TensorFlow
        from cnnstudio.ml.model.deploy import DeployError, VerificationFailed, export_deployment
        from cnnstudio.ml.model.deploy_check import table
        from cnnstudio.ml.model.deploy_data import DeployJob, choose_samples
        from cnnstudio.ml.data.sources import DataError
        from cnnstudio.ml.model.weights import trained_weights_file

        # a bare model file has no data of its own: its data settings are only defaults
        job = DeployJob.of(project, trained_weights_file(project), with_data=project.path is not None)
        if job.weights is None:
            raise CLIError(f"{args.path} has no trained weights (no trained run or weights file): train it first "
                           f"(cnnstudio train {args.path}); a deployed model would give random answers")
        try:
            samples = choose_samples(job.data, job.preprocessing, args.calibration)
            result = export_deployment(job, fmt.name, args.output, samples, force=args.force)
        except VerificationFailed as exc:
            print(table([exc.row]))
            raise CLIError(str(exc)) from None
        except (BuildError, DeployError, DataError, OSError, ProjectError) as exc:
            raise CLIError(f"cannot export {args.path}: {exc}") from None
    print(table([result.row]))
    print(result.describe(), file=sys.stderr)
    return 0
