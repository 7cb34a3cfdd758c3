"""The Probe page: models and images load on the worker, the views draw, a clicked unit shows its
receptive field, filters replay a run's snapshots, every view exports a PNG."""

import threading

import numpy as np
import pytest
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QImage

from cnnstudio.core.project import save_project
from cnnstudio.core.templates import simple_cnn
from cnnstudio.ui.studio import Studio


@pytest.fixture
def model_calls_off_gui(monkeypatch):
    """Record the thread of every ProbeSession call."""
    from cnnstudio.ml.probing.session import ProbeSession

    threads = []
    for name in ("__init__", "set_image", "feature_maps", "filters", "unit", "attribution", "choose_output"):
        original = getattr(ProbeSession, name)

        def wrapped(self, *args, _original=original, **kwargs):
            threads.append(threading.current_thread() is threading.main_thread())
            return _original(self, *args, **kwargs)
        monkeypatch.setattr(ProbeSession, name, wrapped)
    yield threads
    assert threads and not any(threads), "a model call ran on the GUI thread"


def _idle(qtbot, panel, timeout=30000):
    if panel.jobs.busy:
        with qtbot.waitSignal(panel.jobs.busy_changed, timeout=timeout, check_params_cb=lambda busy: not busy):
            pass


@pytest.fixture
def panel(qtbot, tmp_path, model_calls_off_gui):
    from cnnstudio.ui.probe.panel import ProbePanel

    project = simple_cnn()
    project.set_settings("data", {"options": {**project.data.options, "count": 60}})
    save_project(project, tmp_path / "p.cnnproj")
    studio = Studio(project)
    panel = ProbePanel(studio)
    qtbot.addWidget(panel)
    panel.resize(1200, 800)
    panel.show()
    qtbot.waitUntil(lambda: panel.image is not None, timeout=60000)
    _idle(qtbot, panel)
    yield panel
    panel.shutdown()


def _click(qtbot, view, row, col):
    """Left-click pixel (row, col) of a view's image."""
    scene = view.image.mapToScene(QPointF(col + 0.5, row + 0.5))
    qtbot.mouseClick(view.viewport(), Qt.LeftButton, pos=view.mapFromScene(scene))


def test_untrained_graph_loads_with_a_dataset_sample_and_prediction(panel):
    assert panel.model.currentData() == "graph"  # nothing trained yet
    assert panel.image.picture.shape == (32, 32, 3)
    assert "sample 0 of 60" in panel.image_name
    assert panel.prediction.bars.opts["width"][0] == pytest.approx(panel.image.predictions[0].probability)
    assert not panel.busy.isVisible()


def test_choosing_a_layer_shows_its_mosaic_with_dead_maps_framed(qtbot, panel):
    tab = panel.features_tab
    panel.tabs.setCurrentWidget(tab)
    tab.layer.setCurrentIndex(tab.layer.findData("conv2"))
    _idle(qtbot, panel)
    assert tab.maps.layer == "conv2" and tab.view.mosaic.count == 32
    assert tab.view.image.image.shape == tab.maps.picture.shape[:2] + (4,)  # the picture through the colour map
    dead = tab.maps.stats.dead_count
    assert tab.view.outlines.path().elementCount() == 5 * dead  # one closed rectangle per dead map
    _click(qtbot, tab.view, *np.add(tab.view.mosaic.origin(7), (1, 1)))
    assert tab.chosen == 7 and "map 7" in tab.map_stats.text()
    assert panel.field_tab.channel.value() == 7  # the receptive-field view follows


def test_clicking_a_unit_draws_its_receptive_field_and_the_padding_part(qtbot, panel, tmp_path):
    tab = panel.field_tab
    panel.tabs.setCurrentWidget(tab)
    tab.layer.setCurrentIndex(tab.layer.findData("conv2"))
    _idle(qtbot, panel)
    _click(qtbot, tab.map_view, 5, 6)  # conv2: field 8x8, stride 2, padding 3
    _idle(qtbot, panel)
    assert tab.unit == (5, 6) and tab.result.field.box == ((7, 14), (9, 16))
    rect = tab.input_box.inside.path().boundingRect()
    assert (rect.left(), rect.top(), rect.width(), rect.height()) == (9, 7, 8, 8)
    assert tab.input_box.padding.path().isEmpty()  # wholly on the image
    assert tab.effective_view.image.image is not None and "stride 2" in tab.info.text()
    _click(qtbot, tab.map_view, 0, 0)
    _idle(qtbot, panel)
    assert tab.result.field.padding_pixels > 0 and not tab.input_box.padding.path().isEmpty()
    assert panel.export_png(tmp_path / "field.png") and not QImage(str(tmp_path / "field.png")).isNull()


def test_attribution_and_filters_views_draw_and_export(qtbot, panel, tmp_path):
    panel.tabs.setCurrentWidget(panel.attribution_tab)
    _idle(qtbot, panel)
    att = panel.attribution_tab
    assert att.result.method == "gradcam" and att.result.layer == "conv3"
    att.method.setCurrentIndex(att.method.findData("occlusion"))
    _idle(qtbot, panel)
    assert att.result.method == "occlusion" and att.overlay_view.overlay.isVisible()
    panel.tabs.setCurrentWidget(panel.filters_tab)
    _idle(qtbot, panel)
    assert panel.filters_tab.picture.mosaic.count == 16
    for view in panel.views():
        path = tmp_path / f"{view.title}.png"
        assert panel.export_png(path, view)
        _idle(qtbot, panel)
        assert panel.current_view() is view and QImage(str(path)).width() > 600


def test_trained_checkpoint_is_preferred_and_filters_replay_its_snapshots(qtbot, panel):
    from cnnstudio.ml.model.builder import build_model
    from cnnstudio.ml.probing.filters import filter_mosaic
    from cnnstudio.ml.training.runs import Run

    project = panel.studio.project
    run = Run.create(project.runs_dir(), {})
    model = build_model(project.graph)
    model.save(run.best_checkpoint)
    rng = np.random.default_rng(0)
    first = rng.normal(size=(3, 3, 1, 16)).astype(np.float32)
    run.filters().add(0, "conv1", first, None)
    run.filters().add(1, "conv1", model.get_layer("conv1").get_weights()[0], None)
    panel.choose_model("trained")
    _idle(qtbot, panel)
    assert panel.info.title.startswith("Trained: ")
    panel.tabs.setCurrentWidget(panel.filters_tab)
    _idle(qtbot, panel)
    tab = panel.filters_tab
    assert tab.epochs == [0, 1] and tab.replay.isEnabled()
    tab.replay.setValue(0)
    _idle(qtbot, panel)
    assert tab.picture.epoch == 0 and tab.replay_label.text() == "before training"
    np.testing.assert_allclose(tab.picture.mosaic.image, filter_mosaic(first).image)


def test_the_default_project_probes_its_shipped_run(qtbot, model_calls_off_gui):
    from cnnstudio.core.templates import open_default_project
    from cnnstudio.ui.shared.model_choice import SHIPPED_LABEL
    from cnnstudio.ui.probe.panel import ProbePanel

    panel = ProbePanel(Studio(open_default_project()))
    qtbot.addWidget(panel)
    panel.resize(1200, 800)
    panel.show()
    try:
        qtbot.waitUntil(lambda: panel.image is not None, timeout=60000)
        _idle(qtbot, panel)
        assert panel.model.currentText() == SHIPPED_LABEL and panel.info.title == SHIPPED_LABEL
        assert panel.image_name.endswith(f"a {panel.image.predictions[0].label}")  # sample 0, named right
        panel.tabs.setCurrentWidget(panel.filters_tab)
        _idle(qtbot, panel)
        assert panel.filters_tab.epochs == list(range(9))  # before training, then after each epoch
    finally:
        panel.shutdown()


def test_image_files_demo_frames_and_handed_in_pictures_are_probed(qtbot, panel, tmp_path):
    import cv2

    from cnnstudio.ui.probe.background import DEMO_STEP

    img = np.zeros((50, 70, 3), np.uint8)
    cv2.rectangle(img, (20, 10), (45, 35), (255, 255, 255), -1)
    cv2.imwrite(str(tmp_path / "box.png"), img)
    assert panel.choose_source("file", str(tmp_path / "box.png"))
    _idle(qtbot, panel)
    assert panel.image_name == "box.png" and panel.image.picture.shape == (32, 32, 3)
    assert panel.choose_source("demo")
    _idle(qtbot, panel)
    assert panel.image_name.endswith("frame 0")
    panel.step(1)
    _idle(qtbot, panel)
    assert panel.image_name.endswith(f"frame {DEMO_STEP}") and not panel.index.isEnabled()
    panel.set_image(np.full((40, 40, 3), 200, np.uint8), "live frame")
    _idle(qtbot, panel)
    assert panel.image_name == "live frame" and panel.image.picture.max() == 200
    (tmp_path / "junk.png").write_bytes(b"no picture")
    panel.choose_source("file", str(tmp_path / "junk.png"))
    _idle(qtbot, panel)
    assert "cannot be read" in panel.status.text() and panel.image_name == "live frame"


def test_a_segmentation_model_shows_its_output_and_explains_a_clicked_pixel(qtbot, panel, small_models, tmp_path):
    path = tmp_path / "unet.keras"
    small_models["unet"].save(path)
    assert panel.choose_model("file", str(path))
    qtbot.waitUntil(lambda: panel.image is not None and panel.image.output.kind == "map", timeout=60000)
    _idle(qtbot, panel)
    assert panel.output_view.isVisible() and not panel.prediction.isVisible() and not panel.output.isVisible()
    assert panel.output_view.image.image.shape[:2] == (16, 16) and "pixels:" in panel.output_summary.text()
    att = panel.attribution_tab
    panel.tabs.setCurrentWidget(att)
    _idle(qtbot, panel)
    assert att.result.layer == "c4" and "summed over the pixels" in att.overlay_view.title.text
    assert not att.top.isVisible() and att.target.itemText(0) == "most common class"
    _click(qtbot, panel.output_view, 3, 4)
    _idle(qtbot, panel)
    assert att.result.target.pixel == (3, 4) and "at pixel (3, 4)" in att.overlay_view.title.text
    tab = panel.features_tab
    panel.tabs.setCurrentWidget(tab)
    tab.choose_layer("t1")  # a Conv2DTranspose
    _idle(qtbot, panel)
    assert tab.maps.activations.shape == (16, 16, 4)


def test_a_two_output_model_offers_its_outputs_and_says_where_an_attribution_is_undefined(
        qtbot, panel, small_models, tmp_path):
    path = tmp_path / "two.h5"
    small_models["two_outputs"].save(path)
    att = panel.attribution_tab
    panel.tabs.setCurrentWidget(att)
    _idle(qtbot, panel)
    assert panel.choose_model("file", str(path))  # with the attribution shown: it waits for the new image
    qtbot.waitUntil(lambda: panel.info is not None and len(panel.info.outputs) == 2, timeout=60000)
    _idle(qtbot, panel)
    assert panel.output.isVisible() and panel.output.count() == 2 and panel.prediction.isVisible()
    assert att.result.target.index is not None and not panel.status.property("error")
    panel.choose_output(1)
    qtbot.waitUntil(lambda: panel.image is not None and panel.image.output.name == "mask", timeout=30000)
    _idle(qtbot, panel)
    assert panel.output_view.isVisible() and not panel.prediction.isVisible() and not panel.status.property("error")
    assert att.result.target.index is None and att.result.layer == "mask_conv"
    att.cam_layer.setCurrentIndex(att.cam_layer.findData("cls_conv"))  # leads to the classes only
    _idle(qtbot, panel)
    assert att.result is None and "no gradient flows from output mask back to cls_conv" in att.info.text()
    att.method.setCurrentIndex(att.method.findData("saliency"))
    _idle(qtbot, panel)
    assert att.result.method == "saliency" and att.result.target.index is None


def test_the_page_holds_no_session_and_bad_requests_fail_where_they_are_made(panel):
    from cnnstudio.ml.probing.session import ProbeSession
    from cnnstudio.ui.probe.requests import AttributionOf, FeatureMapsOf, FiltersOf, OpenModel, ProbeImage, UnitOf

    for owner in (panel, *panel.views()):  # the worker owns the session; the page has its ModelInfo
        assert not any(isinstance(v, ProbeSession) for v in vars(owner).values())
    assert panel.info is not None and panel.info.layers
    for make in (lambda: FeatureMapsOf(3), lambda: FeatureMapsOf("conv", scalin="shared"),
                 lambda: UnitOf("conv", 0, (1,)), lambda: UnitOf("conv", True, (1, 2)),
                 lambda: FiltersOf("conv", channel="0"), lambda: AttributionOf("gradcam", target=1.5),
                 lambda: ProbeImage("not callable"), lambda: OpenModel("graph")):
        with pytest.raises(TypeError):
            make()
    with pytest.raises(TypeError):
        panel.jobs.submit("x", "a bare function is no request", lambda: None)
    assert UnitOf("conv", np.int64(2), (np.int64(1), 3)).channel == 2  # NumPy's integers are integers
