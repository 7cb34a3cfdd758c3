"""Test set-up: Qt offscreen, settings and autosave in a temporary home, no thread left running."""

import os
import tempfile

os.environ["QT_QPA_PLATFORM"] = "offscreen"  # before Qt is imported anywhere
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")  # tests never need a GPU
_HOME = tempfile.mkdtemp(prefix="cnnstudio-test-home-")
for var in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME"):
    os.environ[var] = os.path.join(_HOME, var.lower())

import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _no_thread_left_running(request):
    """Fail a GUI test that leaves one of the studio's QThreads running."""
    yield
    if "qtbot" not in request.fixturenames:
        return
    from cnnstudio.ui.tasks import running_threads

    left = running_threads()
    for t in left:
        t.quit()
        t.wait(5000)
    assert not left, f"{len(left)} QThread(s) left running"


@pytest.fixture
def read_only(monkeypatch):
    """``read_only(folder)``: chmod the folder a-w (undone afterwards).

    Tests run as root in CI, and root writes through mode bits; there the runs-location check
    (``cnnstudio.core.project.folder_writable``) is told the folder is read-only instead: that
    answer is the one thing simulated.
    """
    import cnnstudio.core.project as project_module

    folders = []
    real = project_module.folder_writable

    def make(folder):
        folder = folder.absolute()
        folder.chmod(0o555)
        folders.append(folder)
        if os.access(folder, os.W_OK):  # root
            monkeypatch.setattr(project_module, "folder_writable", lambda f: not any(
                f.absolute().is_relative_to(ro) for ro in folders) and real(f))
        return folder

    yield make
    for folder in folders:
        folder.chmod(0o755)
