"""``cnnstudio export PATH --format python|keras -o FILE``: a Keras script or a ``.keras`` model.

PATH is a project or a Keras model file (as for ``summary``). ``--format python`` writes a
readable Keras functional script that rebuilds the model (to stdout without ``-o``);
``--format keras`` saves the built model as ``.keras``.
"""

from __future__ import annotations

import sys
from pathlib import Path

from cnnstudio.core.project import ProjectError, write_atomic

from . import CLIError
from .quiet import tensorflow_chatter_hidden
from .summary import load_any


def register(subparsers) -> None:
    """Add the ``export`` subcommand."""
    p = subparsers.add_parser("export", help="write a Keras Python script or a .keras model",
                              description=__doc__.splitlines()[0].split(": ", 1)[1])
    p.add_argument("path", help="project (.cnnproj), .keras, .h5 or Keras JSON file")
    p.add_argument("--format", choices=("python", "keras"), default="python", help="what to write (default: python)")
    p.add_argument("-o", "--output", help="file to write (python: stdout when left out)")
    p.set_defaults(run=run)


def run(args) -> int:
    """Export ``args.path`` in ``args.format``."""
    if args.format == "keras" and not args.output:
        raise CLIError("--format keras needs -o FILE.keras")
    project = load_any(args.path)
    with tensorflow_chatter_hidden():
        from cnnstudio.ml.builder import BuildError  # loads TensorFlow
        from cnnstudio.ml.export import python_code, save_keras

        try:
            if args.format == "keras":
                path = save_keras(project.graph, args.output, name=project.name)
            else:
                code = python_code(project.graph, project.name)
        except (BuildError, OSError) as exc:
            raise CLIError(f"cannot export {args.path}: {exc}") from None
    if args.format == "keras":
        print(f"wrote {path}", file=sys.stderr)
        return 0
    if not args.output or args.output == "-":
        sys.stdout.write(code)
        return 0
    try:
        write_atomic(Path(args.output), code)
    except ProjectError as exc:
        raise CLIError(str(exc)) from None
    print(f"wrote {args.output}", file=sys.stderr)
    return 0
