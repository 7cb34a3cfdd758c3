"""Catalog entries become Keras layers and back; any project title can name the Keras model,
and the probes work on it."""

import numpy as np
import pytest

from cnnstudio.core.catalog import CATALOG
from cnnstudio.core.graph import Node
from cnnstudio.core.templates import lenet5
from cnnstudio.ml.model.builder import build_model, make_layer
from cnnstudio.ml.probing.prober import Prober


def test_a_project_title_becomes_a_keras_safe_model_name_that_probes_accept():
    project = lenet5()
    model = build_model(project.graph, "LeNet-5 (the lecture's)")
    assert model.name == "LeNet_5_the_lecture_s"
    x = np.zeros((1, 32, 32, 1), np.float32)
    maps = Prober(model, project.graph).activations(x, "C1")
    assert maps.shape[-3:] == (28, 28, 6)


@pytest.mark.parametrize("kind", sorted(set(CATALOG) - {"InputLayer"}))  # keras.Input takes `shape`, its config `batch_shape`
def test_catalog_parameters_are_keras_config_names_and_come_back_from_it(kind):
    sp = CATALOG[kind]
    names = sp.params.names()
    config = make_layer(Node("n1", kind, "layer", sp.defaults())).get_config()
    assert set(names) <= set(config)
    # Keras fills some defaults in its own words (pool strides None -> pool_size, a factor 0.2 ->
    # a pair), so the entry comes back as Keras's equivalent value; from there it holds still
    back = sp.coerce({n: config[n] for n in names})
    again = make_layer(Node("n1", kind, "layer", back)).get_config()
    assert sp.coerce({n: again[n] for n in names}) == back
