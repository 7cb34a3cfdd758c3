"""Test set-up: Qt offscreen, settings and autosave in a temporary home, no thread left running."""

import os
import tempfile
import threading
import time

os.environ["QT_QPA_PLATFORM"] = "offscreen"  # before Qt is imported anywhere
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")  # tests never need a GPU
_HOME = tempfile.mkdtemp(prefix="cnnstudio-test-home-")
for var in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME"):
    os.environ[var] = os.path.join(_HOME, var.lower())

import pytest  # noqa: E402


#: Names of the studio's Python threads: capture ("cnnstudio-capture"), task pools
#: ("cnnstudio-task_0"...) and the TensorFlow loader ("tensorflow-import").
STUDIO_THREAD_NAMES = ("cnnstudio-", "tensorflow-import")
THREAD_GRACE_S = 5.0  # a thread asked to stop on close gets this long to end


def _studio_python_threads(before: set) -> list:
    return [t for t in threading.enumerate()
            if t not in before and t.is_alive() and t.name.startswith(STUDIO_THREAD_NAMES)]


@pytest.fixture(autouse=True)
def _no_thread_left_running(request):
    """Fail a GUI test that leaves one of the studio's threads running: a QThread (training,
    live inference), a capture thread, a task pool's thread or the TensorFlow loader. Each
    gets :data:`THREAD_GRACE_S` to end first; threads older than the test are not its doing."""
    before = set(threading.enumerate())
    yield
    if "qtbot" not in request.fixturenames:
        return
    from cnnstudio.ui.tasks import running_threads

    left = running_threads()
    for t in left:
        t.quit()
        t.wait(int(THREAD_GRACE_S * 1000))
    deadline = time.monotonic() + THREAD_GRACE_S
    python = _studio_python_threads(before)
    while python and time.monotonic() < deadline:
        python[0].join(max(0.0, deadline - time.monotonic()))
        python = _studio_python_threads(before)
    assert not left, f"{len(left)} QThread(s) left running"
    assert not python, f"thread(s) left running: {', '.join(t.name for t in python)}"


def _trained_model():
    """A 12x12 RGB classifier (conv, batch norm, separable conv, softmax head) trained two epochs,
    so its weights differ from any initialisation."""
    import keras
    import numpy as np

    layers = keras.layers
    inp = keras.Input((12, 12, 3), name="image")
    x = layers.Conv2D(4, 3, activation="relu", name="conv")(inp)
    x = layers.BatchNormalization(name="bn")(x)
    x = layers.SeparableConv2D(6, 3, name="sep")(x)
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    model = keras.Model(inp, layers.Dense(3, activation="softmax", name="out")(x), name="tiny")
    model.compile("adam", "sparse_categorical_crossentropy")
    rng = np.random.default_rng(0)
    model.fit(rng.random((16, 12, 12, 3)), rng.integers(0, 3, 16), epochs=2, batch_size=8, verbose=0)
    return model


@pytest.fixture(scope="session")
def trained_model_factory():
    """``trained_model_factory()``: a new small trained Keras model (see :func:`_trained_model`)."""
    return _trained_model


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
