"""``cnnstudio export PATH --format python|keras -o FILE``: a Keras script or a ``.keras`` model.

PATH is a project or a Keras model file (as for ``summary``). ``--format python`` writes a
readable Keras functional script that rebuilds the model (to stdout without ``-o``), and with
``--weights`` the trained weights beside it (``FILE.weights.h5``, loaded by the script);
``--format keras`` saves the built model as ``.keras`` with its trained weights. Trained
weights are the project's newest run's, or those of the model file itself; where there are
none, the output says the export is the architecture only.
"""

from __future__ import annotations

import sys
from pathlib import Path

from cnnstudio.core.project import ProjectError

from . import CLIError, add_trust_code
from .quiet import tensorflow_chatter_hidden
from .summary import load_any


def register(subparsers) -> None:
    """Add the ``export`` subcommand."""
    p = subparsers.add_parser("export", help="write a Keras Python script or a .keras model",
                              description=__doc__.splitlines()[0].split(": ", 1)[1])
    p.add_argument("path", help="project (.cnnproj), .keras, .h5 or Keras JSON file")
    p.add_argument("--format", choices=("python", "keras"), default="python", help="what to write (default: python)")
    p.add_argument("-o", "--output", help="file to write (python: stdout when left out)")
    p.add_argument("--weights", action="store_true",
                   help="python: also write the trained weights beside the script (FILE.weights.h5)")
    add_trust_code(p)
    p.set_defaults(run=run)


def run(args) -> int:
    """Export ``args.path`` in ``args.format``."""
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
