"""Can Qt's platform plugin load here? Answered before Qt loads it, without importing Qt.

When a system library of the ``xcb`` (or ``wayland``) plugin is missing, Qt aborts with a
message that names the wrong package ("xcb-cursor0 or libxcb-cursor0 is needed..." even when
that one is installed). :func:`platform_problem` finds the plugin Qt will pick, lists its
unresolved libraries (``ldd``, transitive ones included) and says, in one line, which
packages install them.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

#: soname -> (Debian/Ubuntu package, Fedora package or None): the libraries PySide6's Qt
#: libraries and its xcb and wayland plugins link, beyond glibc and libstdc++.
PACKAGES: dict[str, tuple[str, str | None]] = {
    "libxcb.so.1": ("libxcb1", "libxcb"),
    "libxcb-cursor.so.0": ("libxcb-cursor0", "xcb-util-cursor"),
    "libxcb-icccm.so.4": ("libxcb-icccm4", "xcb-util-wm"),
    "libxcb-image.so.0": ("libxcb-image0", "xcb-util-image"),
    "libxcb-keysyms.so.1": ("libxcb-keysyms1", "xcb-util-keysyms"),
    "libxcb-render-util.so.0": ("libxcb-render-util0", "xcb-util-renderutil"),
    "libxcb-util.so.1": ("libxcb-util1", "xcb-util"),
    "libxcb-randr.so.0": ("libxcb-randr0", "libxcb"),
    "libxcb-render.so.0": ("libxcb-render0", "libxcb"),
    "libxcb-shape.so.0": ("libxcb-shape0", "libxcb"),
    "libxcb-shm.so.0": ("libxcb-shm0", "libxcb"),
    "libxcb-sync.so.1": ("libxcb-sync1", "libxcb"),
    "libxcb-xfixes.so.0": ("libxcb-xfixes0", "libxcb"),
    "libxcb-xkb.so.1": ("libxcb-xkb1", "libxcb"),
    "libxcb-xinerama.so.0": ("libxcb-xinerama0", "libxcb"),
    "libxcb-glx.so.0": ("libxcb-glx0", "libxcb"),
    "libX11.so.6": ("libx11-6", "libX11"),
    "libX11-xcb.so.1": ("libx11-xcb1", "libX11-xcb"),
    "libxkbcommon.so.0": ("libxkbcommon0", "libxkbcommon"),
    "libxkbcommon-x11.so.0": ("libxkbcommon-x11-0", "libxkbcommon-x11"),
    "libGL.so.1": ("libgl1", "mesa-libGL"),
    "libEGL.so.1": ("libegl1", "mesa-libEGL"),
    "libfontconfig.so.1": ("libfontconfig1", "fontconfig"),
    "libfreetype.so.6": ("libfreetype6", "freetype"),
    "libglib-2.0.so.0": ("libglib2.0-0", "glib2"),
    "libgthread-2.0.so.0": ("libglib2.0-0", "glib2"),
    "libdbus-1.so.3": ("libdbus-1-3", "dbus-libs"),
    "libwayland-client.so.0": ("libwayland-client0", "libwayland-client"),
    "libwayland-cursor.so.0": ("libwayland-cursor0", "libwayland-cursor"),
    "libz.so.1": ("zlib1g", None),
    "libzstd.so.1": ("libzstd1", "libzstd"),
}

#: Plugins that draw into memory and need no display or windowing-system library.
HEADLESS = frozenset({"offscreen", "minimal", "vnc"})


@dataclass(frozen=True)
class PluginCheck:
    """What was found for one platform plugin: its file and the libraries that do not resolve."""

    name: str
    path: Path | None
    missing: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """True when the plugin's file is there and all its libraries resolve."""
        return self.path is not None and not self.missing

    def problem(self) -> str:
        """One line: why the plugin cannot load, and the fix (empty when it can)."""
        if self.path is None:
            return f'the Qt "{self.name}" platform plugin is not in PySide6 (set QT_QPA_PLATFORM=xcb or wayland)'
        if not self.missing:
            return ""
        return (f'the Qt "{self.name}" platform plugin cannot load: {", ".join(self.missing)} not found. '
                f"{install_hint(self.missing)}")


def install_hint(sonames: tuple[str, ...] | list[str]) -> str:
    """``Install: sudo apt-get install ... (Fedora: sudo dnf install ...)`` for these libraries."""
    debian = _unique(PACKAGES[s][0] for s in sonames if s in PACKAGES)
    fedora = _unique(PACKAGES[s][1] for s in sonames if s in PACKAGES)
    unknown = [s for s in sonames if s not in PACKAGES]
    parts = []
    if debian:
        hint = f"Install: sudo apt-get install {' '.join(debian)}"
        if None not in fedora:
            hint += f" (Fedora: sudo dnf install {' '.join(fedora)})"
        parts.append(hint)
    if unknown:
        parts.append(f"find the package of {', '.join(unknown)} with: apt-file search {unknown[0]}")
    return "; ".join(parts)


def platform_candidates(env: dict[str, str] | None = None) -> list[str]:
    """The platform plugins Qt will try, in order, as Qt 6 picks them on Linux.

    ``QT_QPA_PLATFORM`` wins (``"wayland;xcb"`` lists fallbacks, ``":option"`` is dropped);
    otherwise a Wayland session tries ``wayland`` and then ``xcb``, anything else ``xcb``.
    """
    env = os.environ if env is None else env
    chosen = env.get("QT_QPA_PLATFORM", "").strip()
    if chosen:
        return [p.split(":", 1)[0].strip() for p in chosen.split(";") if p.strip()]
    if env.get("XDG_SESSION_TYPE") == "wayland" or (env.get("WAYLAND_DISPLAY") and not env.get("DISPLAY")):
        return ["wayland", "xcb"]
    return ["xcb"]


def plugin_folder(env: dict[str, str] | None = None) -> Path | None:
    """PySide6's folder of platform plugins (or ``QT_QPA_PLATFORM_PLUGIN_PATH``), found without importing Qt."""
    env = os.environ if env is None else env
    if env.get("QT_QPA_PLATFORM_PLUGIN_PATH"):
        return Path(env["QT_QPA_PLATFORM_PLUGIN_PATH"])
    found = importlib.util.find_spec("PySide6")
    if found is None or not found.submodule_search_locations:
        return None
    return Path(list(found.submodule_search_locations)[0]) / "Qt" / "plugins" / "platforms"


def check_plugin(name: str, folder: Path | None = None) -> PluginCheck:
    """Locate the plugin ``name`` and list the libraries it (or a library it needs) cannot find."""
    folder = plugin_folder() if folder is None else folder
    # Qt 6.11 ships one libqwayland.so; earlier Qt 6 versions had libqwayland-generic.so and -egl
    files = [] if folder is None else sorted(folder.glob(f"libq{name}.so")) or sorted(folder.glob(f"libq{name}-*.so"))
    if not files:
        return PluginCheck(name, None)
    return PluginCheck(name, files[0], tuple(unresolved_libraries(files[0])))


def unresolved_libraries(path: Path) -> list[str]:
    """Sonames that ``path`` or its dependencies need and the dynamic loader cannot find.

    ``ldd`` lists them all, transitive ones included; without it, a child process tries to
    load the file and reports the first one the loader names.
    """
    ldd = shutil.which("ldd")
    if ldd:
        try:
            out = subprocess.run([ldd, str(path)], capture_output=True, text=True, timeout=20)
        except (OSError, subprocess.TimeoutExpired):
            out = None
        if out is not None and out.returncode == 0:
            return parse_ldd(out.stdout)
    code = "import ctypes, sys; ctypes.CDLL(sys.argv[1])"
    try:
        out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return []  # cannot tell: let Qt try
    found = re.search(r"([\w.+-]+\.so[\w.]*): cannot open shared object file", out.stderr)
    return [found.group(1)] if found else []


def parse_ldd(text: str) -> list[str]:
    """The sonames ``ldd`` reports as ``not found``, each once, in its order."""
    return _unique(m.group(1) for m in re.finditer(r"^\s*(\S+)\s+=>\s+not found", text, re.MULTILINE))


def platform_problem(env: dict[str, str] | None = None, folder: Path | None = None) -> str:
    """One line saying why the studio's window cannot open here, or ``""`` when it can (as far as
    libraries and display go). Only Linux is checked: elsewhere Qt ships what its plugin needs."""
    env = os.environ if env is None else env
    if not sys.platform.startswith("linux"):
        return ""
    candidates = platform_candidates(env)
    if any(name in HEADLESS for name in candidates):
        return ""
    if "QT_QPA_PLATFORM" not in env and not env.get("DISPLAY") and not env.get("WAYLAND_DISPLAY"):
        return ("no display to open the studio on (DISPLAY and WAYLAND_DISPLAY are not set): run it in a desktop "
                "session; the headless commands (cnnstudio --help) work without one")
    folder = plugin_folder(env) if folder is None else folder
    checks = [check_plugin(name, folder) for name in candidates]
    if any(c.ok for c in checks):
        return ""
    return checks[0].problem()


def _unique(items) -> list:
    out: list = []
    for x in items:
        if x not in out:
            out.append(x)
    return out
