"""Keep TensorFlow's native start-up chatter off a headless command's stderr.

TensorFlow's C++ code logs through absl before Python can configure it (oneDNN notices,
"Could not find cuda drivers", cuInit failures), and ``TF_CPP_MIN_LOG_LEVEL`` no longer
silences all of it. A command whose bad input must give exactly one line on stderr runs
its TensorFlow work inside :func:`tensorflow_chatter_hidden`.
"""

from __future__ import annotations

import os
import sys
import tempfile
from contextlib import contextmanager

from . import CLIError


@contextmanager
def tensorflow_chatter_hidden():
    """Send file descriptor 2 to a temporary file while the block runs.

    What was written there is dropped when the block ends normally or with a
    :class:`CLIError` (whose one-line message the caller prints), and written back to
    stderr when anything else escapes, so an unexpected failure keeps all its evidence.
    """
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no real stderr (embedded interpreter): nothing to hide
        yield
        return
    replay = False
    with tempfile.TemporaryFile() as tmp:
        os.dup2(tmp.fileno(), 2)
        try:
            yield
        except CLIError:
            raise
        except BaseException:
            replay = True
            raise
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            if replay:
                tmp.seek(0)
                sys.stderr.write(tmp.read().decode("utf-8", "replace"))
                sys.stderr.flush()
