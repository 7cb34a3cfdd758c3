"""Any project title can name the Keras model, and the probes work on it."""

import numpy as np

from cnnstudio.core.templates import lenet5
from cnnstudio.ml.builder import build_model
from cnnstudio.ml.probes import Prober


def test_a_project_title_becomes_a_keras_safe_model_name_that_probes_accept():
    project = lenet5()
    model = build_model(project.graph, "LeNet-5 (the lecture's)")
    assert model.name == "LeNet_5_the_lecture_s"
    x = np.zeros((1, 32, 32, 1), np.float32)
    maps = Prober(model, project.graph).activations(x, "C1")
    assert maps.shape[-3:] == (28, 28, 6)
