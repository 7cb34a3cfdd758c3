"""kill -9 at random moments while a project is saved: the file is always the complete old or
the complete new version (``save_project`` writes a temporary file and renames it)."""

from __future__ import annotations

import textwrap

from cnnstudio.core.project import load_project
from cnnstudio.core.templates import default_project, resnet_style

#: The child alternates two projects in the file, forever, and says when it has started.
SAVE_LOOP = textwrap.dedent("""
    from cnnstudio.core.project import save_project
    from cnnstudio.core.templates import default_project, resnet_style
    versions = [default_project(), resnet_style()]
    save_project(versions[0], "p.cnnproj")
    print("ready", flush=True)
    i = 0
    while True:
        i += 1
        save_project(versions[i % 2], "p.cnnproj")
""")


def test_a_killed_project_save_leaves_the_old_or_the_new_file(tmp_path, kill_at_random):
    versions = [default_project().to_dict(), resnet_style().to_dict()]

    def check(_i):
        assert load_project(tmp_path / "p.cnnproj").to_dict() in versions

    kill_at_random("project save", SAVE_LOOP, tmp_path, check, 0.0, 0.1)
