"""An imported trained model keeps its weights for probing and live, also across save and reopen."""

import keras
import numpy as np

from cnnstudio.core.project import load_project, save_project
from cnnstudio.ml.model.keras_io import load_model_file, project_from_file


def _tiny_model():
    inp = keras.Input((8, 8, 1))
    x = keras.layers.Conv2D(2, 3, name="conv")(inp)
    out = keras.layers.Dense(3, activation="softmax", name="out")(keras.layers.Flatten()(x))
    return keras.Model(inp, out)


def test_keras_file_import_points_the_project_at_its_weights(tmp_path):
    model = _tiny_model()
    path = tmp_path / "trained.keras"
    model.save(path)
    project = project_from_file(path)
    assert project.weights_file == str(path.resolve())
    saved = save_project(project, tmp_path / "p.cnnproj")
    again = load_project(saved)
    assert again.weights_file == str(path.resolve())
    reloaded = load_model_file(again.weights_file)
    x = np.random.default_rng(0).random((1, 8, 8, 1), dtype=np.float32)
    np.testing.assert_allclose(reloaded(x), model(x), rtol=1e-5)


def test_json_architecture_has_no_weights(tmp_path):
    path = tmp_path / "arch.json"
    path.write_text(_tiny_model().to_json())
    assert project_from_file(path).weights_file is None


def test_downloaded_application_weights_are_kept_in_the_users_folder(monkeypatch):
    """Asking for ImageNet weights keeps the downloaded model beside the project (no download here)."""
    from cnnstudio.core.project import user_data_dir
    from cnnstudio.ml.model.keras_io import project_from_application

    model = _tiny_model()

    def fake_application(weights=None, include_top=True, classes=1000, input_shape=None):
        assert weights == "imagenet"
        return model

    monkeypatch.setattr(keras.applications, "MobileNetV2", fake_application)
    project = project_from_application("MobileNetV2", weights="imagenet")
    assert project.weights_file == str(user_data_dir() / "weights" / "MobileNetV2-imagenet.keras")
    x = np.random.default_rng(0).random((1, 8, 8, 1), dtype=np.float32)
    np.testing.assert_allclose(load_model_file(project.weights_file)(x), model(x), rtol=1e-5)
