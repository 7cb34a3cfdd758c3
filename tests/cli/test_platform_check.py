"""The first-run check: a missing system library of Qt's platform plugin is one line and exit 2."""

import subprocess
import sys
from pathlib import Path

import pytest

from cnnstudio.cli import main
from cnnstudio.ui import platform_check
from cnnstudio.ui.platform_check import (check_plugin, install_hint, parse_ldd, platform_candidates,
                                         platform_problem)

LDD_MISSING = """\
\tlinux-vdso.so.1 (0x00007ffd6b5f2000)
\tlibQt6XcbQpa.so.6 => /venv/PySide6/Qt/plugins/platforms/../../lib/libQt6XcbQpa.so.6 (0x00007f1)
\tlibxcb-cursor.so.0 => /lib/x86_64-linux-gnu/libxcb-cursor.so.0 (0x00007f2)
\tlibxcb-icccm.so.4 => not found
\tlibxcb-keysyms.so.1 => not found
\tlibxcb-icccm.so.4 => not found
\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f3)
"""
LDD_COMPLETE = "\n".join(line for line in LDD_MISSING.splitlines() if "not found" not in line)
X11 = {"DISPLAY": ":95"}


@pytest.fixture
def plugins(tmp_path, monkeypatch):
    """A plugin folder with fake xcb and wayland plugins; ``plugins(text)`` sets what ldd prints."""
    for name in ("libqxcb.so", "libqwayland.so", "libqoffscreen.so"):
        (tmp_path / name).write_bytes(b"\x7fELF")
    ldd = {"out": LDD_COMPLETE}

    def fake_run(cmd, **kwargs):
        assert Path(cmd[0]).name == "ldd" and Path(cmd[1]).parent == tmp_path
        return subprocess.CompletedProcess(cmd, 0, ldd["out"], "")
    monkeypatch.setattr(platform_check.shutil, "which", lambda name: "/usr/bin/ldd")
    monkeypatch.setattr(platform_check.subprocess, "run", fake_run)
    monkeypatch.setattr(platform_check.sys, "platform", "linux")
    monkeypatch.setattr(platform_check, "plugin_folder", lambda env=None: tmp_path)

    def set_ldd(text):
        ldd["out"] = text
    return set_ldd


def test_parse_ldd_lists_each_missing_library_once_in_order():
    assert parse_ldd(LDD_MISSING) == ["libxcb-icccm.so.4", "libxcb-keysyms.so.1"]
    assert parse_ldd(LDD_COMPLETE) == []


def test_missing_libraries_make_one_line_with_the_install_commands(plugins):
    plugins(LDD_MISSING)
    assert platform_problem(X11) == (
        'the Qt "xcb" platform plugin cannot load: libxcb-icccm.so.4, libxcb-keysyms.so.1 not found. '
        "Install: sudo apt-get install libxcb-icccm4 libxcb-keysyms1 "
        "(Fedora: sudo dnf install xcb-util-wm xcb-util-keysyms)")


def test_complete_libraries_and_headless_plugins_pass(plugins):
    assert platform_problem(X11) == ""
    plugins(LDD_MISSING)
    assert platform_problem({"QT_QPA_PLATFORM": "offscreen"}) == ""
    assert platform_problem({"QT_QPA_PLATFORM": "minimal:enable_fonts"}) == ""


def test_candidates_follow_qt(plugins):
    assert platform_candidates({"DISPLAY": ":0"}) == ["xcb"]
    assert platform_candidates({"XDG_SESSION_TYPE": "wayland", "DISPLAY": ":0"}) == ["wayland", "xcb"]
    assert platform_candidates({"QT_QPA_PLATFORM": "wayland;xcb:option"}) == ["wayland", "xcb"]
    # a fallback that loads is enough: Qt moves on to it
    plugins(LDD_MISSING)
    assert check_plugin("wayland").missing == ("libxcb-icccm.so.4", "libxcb-keysyms.so.1")
    assert "xcb" in platform_problem({"QT_QPA_PLATFORM": "wayland;xcb"})


def test_no_display_and_unknown_plugin_are_said(plugins):
    assert "no display" in platform_problem({})
    assert 'the Qt "eglfs2" platform plugin is not in PySide6' in platform_problem({"QT_QPA_PLATFORM": "eglfs2"})


def test_unknown_library_names_a_way_to_find_its_package():
    assert install_hint(["libxcb-cursor.so.0", "libfoo.so.3"]) == (
        "Install: sudo apt-get install libxcb-cursor0 (Fedora: sudo dnf install xcb-util-cursor); "
        "find the package of libfoo.so.3 with: apt-file search libfoo.so.3")
    assert install_hint(["libz.so.1"]) == "Install: sudo apt-get install zlib1g"  # no Fedora name known


def test_the_studio_refuses_to_start_with_one_line_and_exit_2(plugins, monkeypatch, capsys):
    plugins(LDD_MISSING)
    monkeypatch.setenv("DISPLAY", ":95")
    monkeypatch.delenv("QT_QPA_PLATFORM")
    assert main([]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith('cnnstudio: the Qt "xcb" platform plugin cannot load')


def test_the_check_imports_no_qt():
    code = ("import sys, cnnstudio.ui.platform_check as c; c.platform_problem({'DISPLAY': ':0'});"
            "sys.exit(1 if any(m.startswith('PySide6') for m in sys.modules) else 0)")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_without_ldd_a_child_process_tries_to_load_the_plugin(tmp_path, monkeypatch):
    plugin = tmp_path / "libqxcb.so"
    plugin.write_bytes(b"\x7fELF")

    def child(cmd, **kwargs):
        assert cmd[0] == sys.executable and cmd[-1] == str(plugin)
        return subprocess.CompletedProcess(cmd, 1, "", "OSError: libxcb-icccm.so.4: cannot open shared object file: "
                                                        "No such file or directory\n")
    monkeypatch.setattr(platform_check.shutil, "which", lambda name: None)
    monkeypatch.setattr(platform_check.subprocess, "run", child)
    assert check_plugin("xcb", tmp_path).missing == ("libxcb-icccm.so.4",)
