"""Hostile project and graph documents: each wrong type ends in one ProjectError line naming the field."""

import copy
import json

import pytest

from cnnstudio.core.project import ProjectError, load_project
from cnnstudio.core.templates import simple_cnn

BASE = simple_cnn().to_dict()


def _set(path, value):
    def change(doc):
        *keys, last = path
        for k in keys:
            doc = doc[k]
        doc[last] = value
    return change


def _drop(path):
    def change(doc):
        *keys, last = path
        for k in keys:
            doc = doc[k]
        del doc[last]
    return change


@pytest.mark.parametrize("change, field", [
    (_set(["graph"], []), "graph must be an object"),
    (_set(["graph", "nodes"], {"a": 1}), "graph.nodes must be a list"),
    (_set(["graph", "nodes", 0], 5), r"graph.nodes\[0\] must be an object"),
    (_drop(["graph", "nodes", 1, "kind"]), r"graph.nodes\[1\] has no 'kind'"),
    (_set(["graph", "nodes", 1, "kind"], 3), r"graph.nodes\[1\].kind must be a string"),
    (_set(["graph", "nodes", 1, "params"], [1, 2]), r"graph.nodes\[1\] \(conv1\).params must be an object"),
    (_set(["graph", "nodes", 1, "params", "filters"], "many"), r"graph.nodes\[1\] \(conv1\) params: filters"),
    (_set(["graph", "edges"], ["ab", "cd"]), r"graph.edges\[0\] must be \[source id, target id, input port\]"),
    (_set(["graph", "edges", 0, 2], "x"), r"graph.edges\[0\]\[2\] must be an input port"),
    (_set(["graph", "edges", 0, 0], "nope"), r"graph.edges\[0\] joins a node that does not exist"),
    (_set(["graph", "nodes", 1, "pos"], [1, 2, 3]), r"graph.nodes\[1\] \(conv1\).pos must hold 2 numbers"),
    (_set(["graph", "nodes", 1, "known_shape"], ["a", "b"]), r"known_shape\[0\] must be a whole number"),
    (_set(["graph", "nodes", 1, "known_inputs"], [5]), r"known_inputs\[0\] must be a list"),
    (_set(["graph", "outputs"], 5), "graph.outputs must be a list"),
    (_set(["graph", "outputs"], ["zz"]), "graph.outputs names node"),
    (_set(["classes"], {"a": 1}), "classes must be a list of names"),
    (_set(["classes"], [[1]]), r"classes\[0\] must be a name"),
    (_set(["weights_file"], 5), "weights_file must be a file path or null"),
    (_set(["name"], [1]), "name must be a string"),
    (_set(["training"], [1]), "training must be a JSON object"),
    (_set(["training", "epochs"], "x"), "training.epochs"),
])
def test_a_wrong_type_is_one_line_naming_the_file_and_field(tmp_path, change, field):
    doc = copy.deepcopy(BASE)
    change(doc)
    path = tmp_path / "p.cnnproj"
    text = json.dumps(doc)
    path.write_text(text)
    with pytest.raises(ProjectError, match=field) as info:
        load_project(path)
    message = str(info.value)
    assert message.startswith(str(path)) and "\n" not in message
    assert path.read_text() == text  # nothing overwritten
