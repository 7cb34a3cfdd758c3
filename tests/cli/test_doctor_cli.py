"""``cnnstudio doctor``: one screen of what was found, each problem with its fix, exit 1 on a problem."""

import pytest

from cnnstudio.cli import doctor, main


@pytest.fixture
def quick(monkeypatch):
    """Doctor without TensorFlow's start-up (seconds) and with a plugin that loads."""
    monkeypatch.setattr(doctor, "tensorflow", lambda: [doctor.Finding("TensorFlow", "2.99.0, Keras 3.99.0"),
                                                      doctor.Finding("Devices", "CPU (2 cores)")])
    monkeypatch.setattr(doctor, "platform_problem", lambda: "")


def test_report_has_every_section_and_exit_0(quick, capsys):
    assert main(["doctor"]) == 0
    out = capsys.readouterr().out
    for topic in ("Python", "Qt ", "Qt platform", "TensorFlow", "Devices", "OpenCV", "Cameras", "Folder (runs)",
                  "Folder (settings)", "Folder (downloads)", "Folder (temp)", "Extra [gpu]", "Extra [test]"):
        assert f"\n{topic}" in "\n" + out, topic
    assert "Extra [test]        installed" in out  # the tests run with the test extra
    assert out.rstrip().endswith("No problems found.")
    assert len(out.splitlines()) < 25  # one screen


def test_each_problem_is_listed_with_its_fix_and_exit_1(quick, monkeypatch, tmp_path, capsys):
    line = 'the Qt "xcb" platform plugin cannot load: libxcb-icccm.so.4 not found. Install: sudo apt-get install ...'
    monkeypatch.setattr(doctor, "platform_problem", lambda: line)
    locked = tmp_path / "locked"
    locked.mkdir()
    monkeypatch.setenv("KERAS_HOME", str(locked / "keras"))
    monkeypatch.setattr(doctor, "folder_writable", lambda p: locked not in [p, *p.parents])
    assert main(["doctor"]) == 1
    out = capsys.readouterr().out
    assert f"2 problems:\n  - Qt platform: {line}\n" in out
    assert f"  - Folder (downloads): make {locked / 'keras'} writable, or point $KERAS_HOME elsewhere" in out


def test_a_missing_system_library_on_import_names_its_package():
    fix = doctor._import_fix(ImportError("libEGL.so.1: cannot open shared object file: No such file or directory"),
                             "PySide6-Essentials")
    assert fix == "libEGL.so.1 not found. Install: sudo apt-get install libegl1 (Fedora: sudo dnf install mesa-libEGL)"
    assert doctor._import_fix(ImportError("No module named 'cv2'"), "opencv-python-headless") == (
        "No module named 'cv2': pip install 'opencv-python-headless'")


def test_extras_follow_their_own_extras():
    requires = ['numpy>=1.26', 'pytest>=8; extra == "test"', 'no-such-dist-xyz[and-cuda]>=1; extra == "gpu"']
    assert doctor._lacking(requires, "test") == []
    assert doctor._lacking(requires, "gpu") == ["no-such-dist-xyz"]
