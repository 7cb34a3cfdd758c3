"""Write every built-in template as a project file under resources/projects.

    python examples/write_templates.py

Shows the core API headless: templates build a LayerGraph, save_project writes it atomically.
"""

from cnnstudio import RESOURCES
from cnnstudio.core.inference import infer
from cnnstudio.core.project import SUFFIX, save_project
from cnnstudio.core.templates import TEMPLATES

for title, (stem, build) in TEMPLATES.items():
    project = build()
    path = save_project(project, RESOURCES / "projects" / f"{stem}{SUFFIX}")
    info = infer(project.graph)
    print(f"{title:18s} {len(project.graph.nodes):3d} layers {info.total_params:>10,d} params  -> {path.name}")
