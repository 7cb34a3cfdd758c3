"""Code in model files never runs silently: each loader refuses a Lambda in one line, runs it when trusted.

Each test's Lambda writes its own marker file when it runs, so the test sees whether the code
ran, and its bytecode differs from every other test's (trust lasts the session: a piece of
code the user agreed to once stays agreed).
"""

from __future__ import annotations

import ast

import keras
import numpy as np
import pytest

from cnnstudio.core.graph import LayerGraph, Node
from cnnstudio.ml.model.builder import BuildError, build_model
from cnnstudio.ml.model.export import _object_call, python_code
from cnnstudio.ml.model.keras_io import UntrustedCodeError, load_model_file, project_from_file
from cnnstudio.ml.model.trust import code_in

SUFFIXES = (".keras", ".h5", ".json")


def lambda_model(marker) -> keras.Model:
    """A model whose Lambda layer "x" writes ``marker`` whenever it runs (also while the model is rebuilt)."""
    fn = eval(f"lambda t: t * float(__import__('pathlib').Path({str(marker)!r}).write_text('ran') > 0)")
    inp = keras.Input((4,), name="in")
    out = keras.layers.Dense(2, name="d")(keras.layers.Lambda(fn, name="x")(inp))
    model = keras.Model(inp, out, name="with_code")
    marker.unlink()  # written while the model was built here
    return model


def save(model: keras.Model, path):
    if path.suffix == ".json":
        path.write_text(model.to_json())
    else:
        model.save(path)
    return path


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_each_loader_refuses_a_lambda_in_one_line_and_runs_nothing(tmp_path, suffix):
    marker = tmp_path / "ran"
    path = save(lambda_model(marker), tmp_path / f"m{suffix}")
    with pytest.raises(UntrustedCodeError) as info:
        load_model_file(path)
    assert str(info.value) == f'{path} holds Python code (a Lambda layer "x") that runs when the model is loaded: refused'
    assert info.value.what == 'a Lambda layer "x"' and not marker.exists()
    with pytest.raises(UntrustedCodeError):
        project_from_file(path)
    assert not marker.exists()


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_each_loader_runs_the_code_when_trusted(tmp_path, suffix):
    marker = tmp_path / "ran"
    path = save(lambda_model(marker), tmp_path / f"m{suffix}")
    model = load_model_file(path, trust_code=True)
    assert marker.exists() and [layer.name for layer in model.layers] == ["in", "x", "d"]
    marker.unlink()
    load_model_file(path)  # agreed once: the same code loads again in this session
    assert marker.exists()


def test_trusted_import_builds_trains_and_its_checkpoint_loads(tmp_path):
    path = save(lambda_model(tmp_path / "ran"), tmp_path / "m.keras")
    project = project_from_file(path, trust_code=True)
    model = build_model(project.graph, project.name)
    assert model(np.ones((1, 4), "float32")).shape == (1, 2)
    model.save(tmp_path / "checkpoint.keras")  # as a training run writes it
    load_model_file(tmp_path / "checkpoint.keras")


def test_a_graph_carrying_untrusted_code_does_not_build(tmp_path):
    # a project file can hold a generic Lambda node: building it must not run its code either
    model = lambda_model(tmp_path / "ran")
    path = save(model, tmp_path / "m.keras")
    with pytest.raises(UntrustedCodeError):
        project_from_file(path)
    graph = LayerGraph()
    inp = graph.add_node("InputLayer", {"shape": (4,)}, name="in")
    node = Node(graph.new_id(), "Lambda", "x", {}, extra={"layer": keras.saving.serialize_keras_object(model.layers[1])})
    graph.insert_node(node)
    graph.add_edge(inp.id, node.id, 0, check=False)
    graph.set_outputs([node.id])
    with pytest.raises(BuildError, match=r'^x holds Python code \(a Lambda layer "x"\) that was not trusted in this '
                                         r'session: import its model file again and agree to run it$'):
        build_model(graph)
    with pytest.raises(BuildError, match="not trusted"):
        python_code(graph)
    assert not (tmp_path / "ran").exists()


def test_code_is_found_anywhere_in_a_config():
    lam = {"class_name": "__lambda__", "config": {"code": "4wEAAA"}}
    doc = {"class_name": "Functional", "config": {"layers": [
        {"class_name": "Dense", "config": {"name": "d", "activation": lam}},
        {"class_name": "Lambda", "config": {"name": "y", "function": {"class_name": "function", "config": "f"}}}]}}
    assert [c.what for c in code_in(doc)] == ["a Python lambda function", 'a Lambda layer "y"']
    assert code_in({"class_name": "Dense", "config": {"name": "d"}}) == []


HOSTILE = 'x"); import os; os.system("echo pwned")#'


def test_the_exported_script_cannot_be_injected_by_names_or_strings():
    graph = LayerGraph()
    inp = graph.add_node("InputLayer", {"shape": (8, 8, 1)}, name=HOSTILE + "in")
    conv = graph.add_node("Conv2D", {"filters": 2, "kernel_size": (3, 3)}, name=HOSTILE)
    last = graph.add_node("Flatten", {}, name='\'\'\'"""\\ a²')
    graph.add_edge(inp.id, conv.id, 0)
    graph.add_edge(conv.id, last.id, 0)
    graph.set_outputs([last.id])
    code = python_code(graph, 'm"""); import os; os.system("echo pwned")  #\n"""')
    compile(code, "exported.py", "exec")
    tree = ast.parse(code)
    imports = [n for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))]
    assert [a.name for n in imports for a in n.names] == ["keras"]
    calls = {n.func.attr for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)}
    assert "system" not in calls and calls <= {"Input", "Conv2D", "Flatten", "Model", "summary"}
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    assert "os" not in names and "__import__" not in names


def test_only_a_class_of_the_module_is_written_as_a_call():
    hostile = {"module": "keras.initializers", "config": {}, "class_name": "HeNormal(); __import__('os').system('x')#"}
    assert _object_call(hostile) is None
    assert _object_call({**hostile, "class_name": "__loader__"}) is None  # an attribute, not a class
    assert _object_call({**hostile, "class_name": "HeNormal", "config": {"lambda": 1}}) is None  # not an argument
    assert _object_call({**hostile, "class_name": "HeNormal", "config": {"seed": 1}}) == "keras.initializers.HeNormal(seed=1)"
