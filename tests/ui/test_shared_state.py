"""State several pages share: evented, and written on the GUI thread only."""

import threading

import pytest

from cnnstudio.ui.shared.state import ComputeDevice, TrainedModel


def test_a_published_model_is_announced_and_a_new_project_only_resets_it(qtbot):
    trained, heard = TrainedModel("old.keras"), []
    trained.published.connect(heard.append)
    trained.reset("imported.keras")
    assert trained.path == "imported.keras" and heard == []
    trained.publish("run/best.keras")
    assert trained.path == "run/best.keras" and heard == ["run/best.keras"]


def test_the_device_is_announced_once_and_never_written_from_another_thread(qtbot):
    device, heard, errors = ComputeDevice(), [], []
    device.found.connect(heard.append)
    device.set("")  # not known yet: nothing to say
    device.set("CPU (no GPU found)")
    device.set("CPU (no GPU found)")
    assert device.description == "CPU (no GPU found)" and heard == ["CPU (no GPU found)"]

    def write():
        try:
            TrainedModel().publish("x.keras")
        except RuntimeError as exc:
            errors.append(str(exc))
    t = threading.Thread(target=write)
    t.start()
    t.join()
    assert errors == ["the trained model is written on the GUI thread only"]
    with pytest.raises(AttributeError):
        device.description = "GPU"  # read-only: written through set()
