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
    collector = None
    if "qtbot" in request.fixturenames:  # as the studio does: Qt objects in cycles are freed on the GUI thread
        from cnnstudio.ui.gui_gc import GuiThreadCollector

        collector = GuiThreadCollector()
        collector.start()
    yield
    if collector is None:
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
    collector.stop()
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


@pytest.fixture(scope="session")
def small_models():
    """Tiny models that are not classifiers, built once: name -> keras.Model.

    ``unet`` (per-pixel softmax; UpSampling2D, Conv2DTranspose and Concatenate skips),
    ``autoencoder`` (a sigmoid picture), ``two_outputs`` (classes and a mask from two
    branches: ``cls_conv`` leads only to the classes, ``mask_conv`` only to the mask) and
    ``regression`` (one linear unit).
    """
    import keras
    from keras import layers as L

    keras.utils.set_random_seed(0)
    inp = keras.Input((16, 16, 3))
    c1 = L.Conv2D(4, 3, padding="same", activation="relu", name="c1")(inp)
    c2 = L.Conv2D(8, 3, padding="same", activation="relu", name="c2")(L.MaxPooling2D(name="p1")(c1))
    b = L.Conv2D(8, 3, padding="same", activation="relu", name="b")(L.MaxPooling2D(name="p2")(c2))
    up = L.Concatenate(name="cat1")([L.UpSampling2D(name="up1")(b), c2])
    c3 = L.Conv2D(8, 3, padding="same", activation="relu", name="c3")(up)
    t1 = L.Conv2DTranspose(4, 2, strides=2, name="t1")(c3)
    c4 = L.Conv2D(4, 3, padding="same", activation="relu", name="c4")(L.Concatenate(name="cat2")([t1, c1]))
    unet = keras.Model(inp, L.Conv2D(3, 1, activation="softmax", name="seg")(c4), name="unet")

    inp = keras.Input((16, 16, 1))
    e = L.Conv2D(8, 3, strides=2, padding="same", activation="relu", name="e2")(
        L.Conv2D(4, 3, strides=2, padding="same", activation="relu", name="e1")(inp))
    d = L.Conv2DTranspose(4, 3, strides=2, padding="same", activation="relu", name="d2")(
        L.Conv2DTranspose(8, 3, strides=2, padding="same", activation="relu", name="d1")(e))
    autoencoder = keras.Model(inp, L.Conv2D(1, 3, padding="same", activation="sigmoid", name="recon")(d),
                              name="autoencoder")

    inp = keras.Input((16, 16, 3))
    c1 = L.Conv2D(4, 3, padding="same", activation="relu", name="c1")(inp)
    cls = L.Conv2D(6, 3, padding="same", activation="relu", name="cls_conv")(c1)
    label = L.Dense(4, activation="softmax", name="label")(L.GlobalAveragePooling2D(name="gap")(cls))
    m = L.Conv2D(4, 3, padding="same", activation="relu", name="mask_conv")(c1)
    mask = L.Conv2D(1, 1, activation="sigmoid", name="mask")(m)
    two = keras.Model(inp, [label, mask], name="two_outputs")

    inp = keras.Input((16, 16, 1))
    r = L.Conv2D(4, 3, activation="relu", name="r1")(inp)
    r = L.Conv2D(4, 3, activation="relu", name="r2")(L.MaxPooling2D(name="rp")(r))
    regression = keras.Model(inp, L.Dense(1, name="value")(L.Flatten(name="flat")(r)), name="regression")
    return {"unet": unet, "autoencoder": autoencoder, "two_outputs": two, "regression": regression}
