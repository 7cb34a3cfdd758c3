"""The rule of direction ui -> ml -> core, checked by import-linter and by importing."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_import_linter_contracts_hold():
    lint = Path(sys.executable).with_name("lint-imports")
    out = subprocess.run([str(lint)], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def test_core_import_pulls_in_no_qt_or_tensorflow():
    code = ("import sys, cnnstudio.core.catalog, cnnstudio.core.inference, cnnstudio.core.project, "
            "cnnstudio.core.commands, cnnstudio.core.templates;"
            "bad=[m for m in ('PySide6','tensorflow','keras','cv2','pyqtgraph') if m in sys.modules];"
            "print(bad); sys.exit(1 if bad else 0)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
