"""The Live page end to end: real capture and inference threads on the demo and a video file."""

from types import SimpleNamespace

import cv2
import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QImage

from cnnstudio.core.templates import default_project
from cnnstudio.ml.live.frame_sources import DemoSource, FrameGrabber, FrameSource
from cnnstudio.ui.live.panel import DrawPacer, LivePanel
from cnnstudio.ui.live.requests import ShowLayer
from cnnstudio.ui.shared.pictures import ImageView
from cnnstudio.ui.live.worker import LiveWorker
from cnnstudio.ui.studio import Studio
from cnnstudio.ui.tasks import running_threads


class UnpluggedCamera(FrameSource):
    """Sends two frames, then nothing, like a camera pulled out mid-stream."""

    live = True

    def __init__(self):
        super().__init__("USB camera")
        self.reads = 0

    @property
    def frame_size(self):
        return 16, 16

    def read(self):
        self.reads += 1
        return (True, np.zeros((16, 16, 3), np.uint8)) if self.reads <= 2 else (False, None)


def _shown_panel(qtbot, tmp_path, project):
    """A Live page on ``project``, shown, once its first frame came through a model."""
    p = LivePanel(Studio(project))
    qtbot.addWidget(p)
    p.capture.set_root(tmp_path / "captures")
    p.resize(1200, 800)
    p.show()
    qtbot.waitUntil(lambda: p.last_result is not None and not _is_frame(p.last_result), timeout=30000)
    return p


@pytest.fixture
def panel(qtbot, tmp_path):
    p = _shown_panel(qtbot, tmp_path, default_project())
    yield p
    p.shutdown()


def _is_frame(item):
    return type(item).__name__ == "Frame"


def test_demo_runs_through_the_model_and_shutdown_ends_every_thread(panel, qtbot):
    result = panel.last_result
    assert result.frame.source.startswith("Demo")
    assert panel.models.layer.currentData() == "conv1"  # the first convolution's maps by default
    assert result.mosaic.count == 16 and panel.fmaps.image.image is not None
    assert len(panel.topk.bars.opts["width"]) == 5  # top-5 bars drawn
    shown = panel.input_view.image.image  # the model's own input beside the frame, drawn as RGBA
    assert shown.shape == (32, 32, 4) and np.array_equal(shown[:, :, :3], result.model_input)
    qtbot.waitUntil(lambda: "fps" in panel.status.text(), timeout=5000)
    panel.shutdown()
    assert not panel.grabber.running and panel.thread is None and not running_threads()


class FakeClock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


def test_results_at_the_source_rate_are_drawn_at_once_and_faster_ones_at_that_rate():
    clock, period = FakeClock(), 1 / 30
    pacer = DrawPacer(clock)
    # a camera's pace, with jitter either way: every frame drawn the moment its result is ready
    for k in range(300):
        clock.t = k * period + (0.004 if k % 3 == 0 else -0.004)
        assert pacer.wait(period) == 0.0
        pacer.drew()
    # a model faster than the source (a video read as fast as it goes): draws keep to the source's rate
    drawn, t0 = 0, clock.t
    while clock.t < t0 + 10.0:
        clock.t += 0.001
        if pacer.wait(period) == 0.0:
            pacer.drew()
            drawn += 1
    assert 299 <= drawn <= 302
    # ... and a result that must wait is told for how long: at most one period
    assert 0.0 < pacer.wait(period) <= period


def test_feature_map_click_draws_the_receptive_field_on_the_frame(panel, qtbot):
    panel.models.layer.setCurrentIndex(panel.models.layer.findData("conv2"))
    panel.models.request_made.emit(ShowLayer("conv2"))
    qtbot.waitUntil(lambda: panel.last_result.layer == "conv2", timeout=5000)
    panel.fmaps.unit_clicked.emit(0, 8, 8)
    qtbot.waitUntil(lambda: getattr(panel.last_result, "field_rect", None) is not None, timeout=5000)
    x0, y0, x1, y1 = panel.last_result.field_rect
    assert (x1 - x0) == pytest.approx(8 * 480 / 32)  # an 8-pixel field on a 480-pixel demo frame
    assert panel.field_item.isVisible() and "8x8 px" in panel.field_text.text()


def test_gradcam_overlay_toggles(panel, qtbot):
    panel.models.gradcam.setChecked(True)
    qtbot.waitUntil(lambda: getattr(panel.last_result, "cam", None) is not None, timeout=10000)
    qtbot.waitUntil(lambda: panel.frame_view.overlay.isVisible(), timeout=5000)
    panel.models.gradcam.setChecked(False)
    qtbot.waitUntil(lambda: not panel.frame_view.overlay.isVisible(), timeout=5000)


def test_the_overlay_method_is_chosen_on_the_page(panel, qtbot):
    combo = panel.models.cam_method
    assert [combo.itemText(i) for i in range(combo.count())] == ["Grad-CAM", "Guided Grad-CAM", "Guided backprop"]
    panel.models.gradcam.setChecked(True)
    combo.setCurrentIndex(combo.findData("guided"))
    combo.activated.emit(combo.currentIndex())
    qtbot.waitUntil(lambda: getattr(panel.last_result, "cam", None) is not None, timeout=10000)
    qtbot.waitUntil(lambda: "Guided backprop" in panel.status.text(), timeout=10000)


def test_switch_to_a_video_then_back_and_unreadable_files(panel, qtbot, tmp_path):
    path = tmp_path / "clip.avi"
    out = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 30, (80, 60))
    for i in range(10):
        out.write(np.full((60, 80, 3), 20 * i, np.uint8))
    out.release()
    from PySide6.QtCore import QMimeData, QPointF, QUrl
    from PySide6.QtGui import QDropEvent

    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    panel.dropEvent(QDropEvent(QPointF(5, 5), Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier))  # dropped on the page
    qtbot.waitUntil(lambda: panel.last_result.frame.source == "clip.avi", timeout=5000)
    assert not panel.sources.resolution.isEnabled()  # a file has its own size
    assert panel.sources.combo.currentText() == "Video: clip.avi"
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"\x00" * 64)
    assert not panel.open_source("video", str(bad))
    assert panel.message.isVisible() and "cannot be read" in panel.message.text()
    assert panel.last_result.frame.source in ("clip.avi",)  # the running source kept going
    assert panel.open_source("demo")
    qtbot.waitUntil(lambda: panel.last_result.frame.source.startswith("Demo"), timeout=5000)
    assert not panel.message.isVisible()
    assert panel.sources.combo.currentText().startswith("Demo") and panel.sources.resolution.isEnabled()
    res = panel.sources.resolution
    res.setCurrentIndex(res.findData("256x256"))
    res.activated.emit(res.currentIndex())  # as a user's pick: the capture thread applies it between reads
    qtbot.waitUntil(lambda: panel.last_result.frame.image.shape == (256, 256, 3), timeout=5000)
    qtbot.waitUntil(lambda: "256x256" in panel.sources.info.text(), timeout=5000)


def test_unplugged_camera_gives_a_message_and_the_demo(panel, qtbot):
    panel.grabber.switch_source(UnpluggedCamera())
    qtbot.waitUntil(lambda: panel.message.isVisible() and "USB camera" in panel.message.text(), timeout=5000)
    assert panel.sources.demo_button.isVisible()
    qtbot.mouseClick(panel.sources.demo_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: panel.last_result.frame.source.startswith("Demo") and not panel.message.isVisible(),
                    timeout=5000)
    assert panel.grabber.running
    assert not panel.open_source("camera", 97) and "Camera 97" in panel.message.text()


def test_capture_into_class_folders_then_train_on_them(panel, qtbot, tmp_path):
    box = panel.capture
    assert not box.train_button.isEnabled()
    box.save_frame()
    assert "Add a class first" in panel.message.text()
    assert box.add_class("cup") and box.add_class("pen") and not box.add_class("a/b")
    assert "cannot be a folder name" in panel.message.text()
    box.class_list.setCurrentRow(0)
    panel.setFocus()
    qtbot.keyPress(panel, Qt.Key_Space)
    qtbot.keyRelease(panel, Qt.Key_Space)
    assert box.counts() == {"cup": 1, "pen": 0}
    box.class_list.setCurrentRow(1)
    box.rate.setValue(20)
    box.begin_capture()  # held down: keeps saving new frames
    qtbot.waitUntil(lambda: box.counts()["pen"] >= 3, timeout=5000)
    box.end_capture()
    counts = box.counts()
    assert counts["cup"] == 1 and counts["pen"] >= 3
    files = sorted((tmp_path / "captures" / "pen").glob("*.jpg"))
    assert len(files) == counts["pen"] and cv2.imread(str(files[0])).shape == (480, 480, 3)
    assert "pen" in box.class_list.item(1).text() and str(counts["pen"]) in box.class_list.item(1).text()
    assert box.train_button.isEnabled()
    qtbot.mouseClick(box.train_button, Qt.LeftButton)
    project = panel.studio.project
    assert project.data.kind == "folder" and project.data.path == str(tmp_path / "captures")
    assert project.graph.by_name("output").params["units"] == 2  # the user's network now has 2 outputs
    panel.studio.undo_stack.undo()  # one step undoes both
    assert project.graph.by_name("output").params["units"] == 6 and project.data.kind == "shapes"


def test_a_click_on_shrunk_tiles_names_the_unit_of_the_full_map(panel, qtbot):
    from PySide6.QtCore import QPointF

    from cnnstudio.ml.probing.mosaic import tile_mosaic

    panel.stop_capture()  # no new frames: the mosaic set here stays
    qtbot.wait(100)
    view = panel.fmaps
    mosaic = tile_mosaic(np.random.default_rng(0).random((8, 8, 4), np.float32))  # 4 tiles of 8x8
    view.set_mosaic(mosaic, (mosaic.image * 255).astype(np.uint8), map_shape=(32, 32))  # shrunk 4x
    clicks = []
    view.unit_clicked.connect(lambda *a: clicks.append(a))

    class Click:
        def button(self):
            return Qt.LeftButton

        def scenePos(self):
            y, x = mosaic.origin(3)
            return view.image.mapToScene(QPointF(x + 2.5, y + 6.5))  # tile 3, tile pixel (6, 2)

    view._on_scene_clicked(Click())
    assert clicks[-1] == (3, 24, 8)  # map units: 4 per tile pixel
    view.mark_unit(3, 24, 8)
    assert view.marker.isVisible() and view.marker.rect().width() == pytest.approx(0.25 + 1.0)


def test_a_newly_trained_model_replaces_the_untrained_graph(panel, qtbot, tmp_path):
    from cnnstudio.ml.model.builder import build_model

    assert panel.model_choice == "graph"  # nothing trained yet: the editor's graph, untrained
    path = tmp_path / "best.keras"
    build_model(panel.studio.project.graph, name="trained").save(path)
    panel.studio.trained.publish(str(path))  # what the Training page does after an epoch
    qtbot.waitUntil(lambda: panel.models.info.text().startswith("Trained"), timeout=20000)
    assert panel.model_choice == "trained" and panel.models.combo.currentData() == "trained"
    assert "\ntrained: input" in panel.models.info.text()  # the model's own name, from the worker's ModelReady


def test_the_default_project_runs_its_shipped_run_until_one_is_trained(qtbot, tmp_path):
    from cnnstudio.core.templates import open_default_project
    from cnnstudio.ml.model.builder import build_model
    from cnnstudio.ui.shared.model_choice import SHIPPED_LABEL, TRAINED_LABEL

    panel = _shown_panel(qtbot, tmp_path, open_default_project())
    try:
        assert panel.model_choice == "trained" and panel.models.combo.currentText() == SHIPPED_LABEL
        assert panel.models.info.text().startswith(SHIPPED_LABEL)
        path = tmp_path / "run" / "last.keras"
        path.parent.mkdir()
        build_model(panel.studio.project.graph, name="trained").save(path)
        panel.studio.trained.publish(str(path))  # what the Training page does after an epoch
        qtbot.waitUntil(lambda: panel.models.info.text().startswith("Trained: run/"), timeout=20000)
        assert panel.models.combo.currentText() == TRAINED_LABEL
    finally:
        panel.shutdown()


def test_preprocessing_runs_on_the_thread_with_time_to_spare():
    grabber = FrameGrabber(DemoSource(64, 64))
    worker = LiveWorker(grabber)
    worker._pipeline = pipe = SimpleNamespace(prepare=lambda image: image)
    grabber.transform, grabber.read_ms = pipe.prepare, 2.0

    def frames(model_ms, n=30):
        for _ in range(n):
            worker.processed += 1
            worker._place_preprocessing(model_ms)

    frames(0.5)  # a small model: the read is the slowest stage, so the worker preprocesses
    assert grabber.transform is None
    frames(20.0)  # a large model: the capture thread has the time
    assert grabber.transform == pipe.prepare
    frames(2.1)  # about even: no flipping back and forth
    assert grabber.transform == pipe.prepare


def test_pictures_are_drawn_from_qt_s_opaque_format_with_their_own_colours(qtbot):
    view = ImageView("frame")
    qtbot.addWidget(view)
    picture = np.zeros((6, 8, 3), np.uint8)
    picture[:, :, 0], picture[0, 0] = 200, (10, 20, 30)
    view.set_image(picture)
    view.image.render()
    assert view.image.qimage.format() == QImage.Format.Format_RGB32
    assert view.image.qimage.pixelColor(0, 0) == QColor(10, 20, 30)
    assert view.image.qimage.pixelColor(7, 5) == QColor(200, 0, 0)


def test_a_segmentation_model_runs_live_and_the_page_says_it_has_no_classes(panel, qtbot, small_models, tmp_path):
    path = tmp_path / "unet.keras"
    small_models["unet"].save(path)
    panel.models.gradcam.setChecked(True)
    assert panel.choose_model("file", str(path))
    qtbot.waitUntil(lambda: "is not classes" in panel.message.text(), timeout=30000)
    qtbot.waitUntil(lambda: panel.last_result is not None and not _is_frame(panel.last_result)
                    and panel.last_result.cam is not None,
                    timeout=30000)
    assert panel.last_result.top == [] and len(panel.topk.bars.opts["width"]) == 0
    assert "seg: 16x16x3 per-pixel classes" in panel.message.text() and "failed" not in panel.message.text()


def test_the_gui_thread_never_touches_the_pipeline(qtbot, tmp_path, monkeypatch):
    """The worker owns the pipeline: every call into it from the page (a model, a layer, a unit,
    Grad-CAM, top-k) goes as a request, and results are drawn from their own data."""
    import threading

    from cnnstudio.ml.live.pipeline import LivePipeline

    on_gui = []
    for name in ("__init__", "set_layer", "select_unit", "set_scaling", "warm_up", "prepare", "infer", "process"):
        original = getattr(LivePipeline, name)

        def wrapped(self, *args, _original=original, **kwargs):
            on_gui.append(threading.current_thread() is threading.main_thread())
            return _original(self, *args, **kwargs)
        monkeypatch.setattr(LivePipeline, name, wrapped)
    panel = _shown_panel(qtbot, tmp_path, default_project())
    try:
        panel.models.request_made.emit(ShowLayer("conv2"))
        panel.fmaps.unit_clicked.emit(0, 4, 4)
        qtbot.waitUntil(lambda: getattr(panel.last_result, "field_rect", None) is not None, timeout=10000)
        panel.models.gradcam.setChecked(True)
        panel.models.k.setValue(3)
        qtbot.waitUntil(lambda: getattr(panel.last_result, "cam", None) is not None
                        and len(panel.last_result.top) == 3, timeout=10000)
        assert not any(isinstance(v, LivePipeline) for v in vars(panel.last_result).values())
    finally:
        panel.shutdown()
    assert on_gui and not any(on_gui), "the GUI thread called the live pipeline"


def test_requests_with_bad_fields_fail_where_they_are_made():
    from cnnstudio.ui.live.requests import (ForgetPast, LoadModel, ProbeOptions, SelectUnit, SetMosaic, SetProbe,
                                            ShowLayer)

    for make in (lambda: SetProbe(kk=3), lambda: SetProbe(k="3"), lambda: SetProbe(gradcam=1),
                 lambda: SetProbe(smoothing=True), lambda: ShowLayer(None), lambda: SelectUnit((1, 2, 3)),
                 lambda: SelectUnit([1, 2]), lambda: SetMosaic(1.5, 100.0), lambda: LoadModel("graph")):
        with pytest.raises(TypeError):
            make()
    with pytest.raises(ValueError, match="scaling"):
        SetProbe(scaling="log")
    with pytest.raises(ValueError, match="cam_method must be one of gradcam, guided_gradcam, guided"):
        SetProbe(cam_method="integrated")  # too slow a frame: the Probe page's
    worker = LiveWorker(FrameGrabber(DemoSource(64, 64)))
    with pytest.raises(TypeError):
        worker.send({"k": 3})  # the old stringly form
    options = ProbeOptions()
    for r in (ShowLayer("conv2"), SelectUnit((4, 5)), SetProbe(k=3, gradcam=True), SetMosaic(2, 4096), ForgetPast()):
        options = r.apply(options)
    assert options == ProbeOptions("conv2", (4, 5), True, 0.0, 3, "per_map", 2.0, 4096)
    assert ShowLayer("conv1").apply(options).unit is None  # a unit of another layer is forgotten
