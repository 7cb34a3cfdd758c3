"""Frame sources and the capture thread: a video file written here stands in for the camera."""

import time

import cv2
import numpy as np
import pytest

from cnnstudio.ml.data.capture_folder import TRASH, DatasetWriter
from cnnstudio.ml.live.frame_sources import (CameraSource, DemoSource, FolderSource, FrameGrabber, FrameSource,
                                  ImageFileSource, SourceError, VideoFileSource, guess_kind, list_cameras,
                                  open_source)


def write_video(path, frames=20, size=(64, 48), fps=30.0):
    """A short MJPG video whose frame i is filled with grey level 10*i (red channel 200 as a BGR check)."""
    w, h = size
    out = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (w, h))
    assert out.isOpened()
    for i in range(frames):
        img = np.full((h, w, 3), 10 * i, np.uint8)
        img[:, :, 2] = 200  # BGR: red
        out.write(img)
    out.release()
    return path


@pytest.fixture
def video(tmp_path):
    return write_video(tmp_path / "cam.avi")


class FailingSource(FrameSource):
    """A camera that sends ``good`` frames, then nothing: unplugged mid-stream."""

    live = True

    def __init__(self, good=3):
        super().__init__("Flaky camera")
        self.good, self.reads, self.released = good, 0, False

    @property
    def frame_size(self):
        return 8, 8

    def read(self):
        self.reads += 1
        time.sleep(0.002)
        return (True, np.zeros((8, 8, 3), np.uint8)) if self.reads <= self.good else (False, None)

    def release(self):
        self.released = True


def test_video_file_frames_are_rgb_and_loop(video):
    src = VideoFileSource(video, loop=True)
    assert src.frame_size == (64, 48) and src.fps == pytest.approx(30.0)
    frames = [src.read() for _ in range(45)]
    assert all(ok for ok, _ in frames)  # 20 frames, played more than twice round
    img = frames[0][1]
    assert img.shape == (48, 64, 3) and img.dtype == np.uint8
    assert img[..., 0].mean() > 150 and img[..., 2].mean() < 50  # BGR from OpenCV became RGB
    assert abs(int(frames[20][1][..., 1].mean()) - int(frames[0][1][..., 1].mean())) < 8  # back at the start
    src.release()


def test_video_file_without_loop_ends(video):
    src = VideoFileSource(video, loop=False)
    oks = [src.read()[0] for _ in range(25)]
    assert oks[:20] == [True] * 20 and not any(oks[20:]) and src.ended


def test_unreadable_files_raise_a_message(tmp_path):
    bad = tmp_path / "notes.avi"
    bad.write_text("not a video")
    with pytest.raises(SourceError, match="cannot be read as a video"):
        VideoFileSource(bad)
    with pytest.raises(SourceError, match="no such video"):
        VideoFileSource(tmp_path / "missing.mp4")
    png = tmp_path / "broken.png"
    png.write_bytes(b"\x89PNG garbage")
    with pytest.raises(SourceError, match="cannot be read as an image"):
        ImageFileSource(png)
    with pytest.raises(SourceError, match="no readable image"):
        FolderSource(tmp_path)


def test_image_and_folder_sources(tmp_path):
    for i, grey in enumerate((30, 120, 220)):
        cv2.imwrite(str(tmp_path / f"{i}.png"), np.full((10, 12), grey, np.uint8))
    (tmp_path / "z_broken.jpg").write_bytes(b"nope")
    still = ImageFileSource(tmp_path / "1.png")
    ok, img = still.read()
    assert ok and img.shape == (10, 12, 3) and still.frame_size == (12, 10)
    folder = FolderSource(tmp_path, seconds_per_image=0.2, fps=10)  # two reads per image
    levels = [int(folder.read()[1][0, 0, 0]) for _ in range(8)]
    assert levels == [30, 30, 120, 120, 220, 220, 30, 30]  # cycles, the broken file skipped
    assert [p.name for p in folder.skipped] == ["z_broken.jpg"]
    assert guess_kind(tmp_path) == "folder" and guess_kind(tmp_path / "a.PNG") == "image"
    assert guess_kind(tmp_path / "a.mp4") == "video"


def test_demo_source_moves_and_changes_shape():
    demo = open_source("demo", width=96, height=64, seconds_per_shape=0.5)
    assert demo.frame_size == (96, 64)
    first = demo.read()[1]
    second = demo.read()[1]
    assert first.shape == (64, 96, 3) and first.dtype == np.uint8
    assert np.abs(first.astype(int) - second.astype(int)).sum() > 0  # it moves
    assert first.max() > 200 and np.median(first) < 60  # a bright shape on a dark ground
    seen = set()
    for _ in range(200):
        demo.read()
        seen.add(demo.current_class)
    assert len(seen) >= 3
    assert demo.set_format(128, 128, 15) == (128, 128, 15.0)
    assert demo.read()[1].shape == (128, 128, 3)


def test_no_camera_is_a_message_not_a_crash():
    assert isinstance(list_cameras(max_index=2), list)  # empty on a machine without one
    with pytest.raises(SourceError, match="Camera 97 cannot be opened"):
        CameraSource(97)
    with pytest.raises(SourceError, match="unknown source kind"):
        open_source("scanner")


def test_slow_consumer_gets_the_latest_frame_and_drops_rise(video):
    grabber = FrameGrabber(VideoFileSource(video), pacing="free").start()
    try:
        first = grabber.wait_frame(timeout=2.0)
        time.sleep(0.15)  # a slow model: many frames arrive meanwhile
        later = grabber.wait_frame(after=first.index, timeout=2.0)
        assert later.index > first.index + 5  # jumped straight to the newest frame
        assert grabber.dropped >= later.index - first.index - 1
        assert grabber.latest() is later or grabber.latest().index >= later.index  # one frame held, never a queue
    finally:
        grabber.stop()
    assert not grabber.running


def test_realtime_pacing_follows_the_file_frame_rate(tmp_path):
    src = VideoFileSource(write_video(tmp_path / "v.avi", fps=50.0))
    grabber = FrameGrabber(src, pacing="realtime").start()
    time.sleep(0.3)
    grabber.stop()
    assert 3 <= grabber.captured <= 22  # about 50 frames per second, not as fast as decoding goes


def test_demand_pacing_reads_one_ahead_and_drops_nothing(video):
    grabber = FrameGrabber(VideoFileSource(video), pacing="demand").start()
    indices, last = [], -1
    for _ in range(10):
        frame = grabber.wait_frame(after=last, timeout=2.0)
        indices.append(frame.index)
        last = frame.index
        time.sleep(0.01)
    grabber.stop()
    assert indices == list(range(10)) and grabber.dropped == 0


def test_demand_pacing_publishes_nothing_while_paused(video):
    """The frame read ahead is not published once paused: a paused pipeline holds still."""
    grabber = FrameGrabber(VideoFileSource(video), pacing="demand").start()
    try:
        grabber.wait_frame(timeout=2.0)
        time.sleep(0.05)  # the next frame is published, and the one after it read and waiting
        grabber.paused = True
        held = grabber.latest()
        n = grabber.captured
        assert grabber.wait_frame(after=held.index, timeout=0.2) is None  # the waiting one is not published
        assert grabber.captured == n
        grabber.paused = False
        assert grabber.wait_frame(after=held.index, timeout=2.0) is not None
    finally:
        grabber.stop()


def test_mirror_freeze_and_pause(video):
    grabber = FrameGrabber(DemoSource(64, 64), pacing="free").start()
    try:
        frame = grabber.wait_frame(timeout=2.0)
        grabber.mirror = True
        mirrored = grabber.wait_frame(after=frame.index + 1, timeout=2.0)
        source_frame = grabber.source.frame_number
        assert source_frame > 0 and mirrored is not None
        grabber.frozen = True
        held = grabber.wait_frame(after=mirrored.index, timeout=2.0)
        again = grabber.wait_frame(after=held.index + 3, timeout=2.0)
        assert again.index > held.index and np.array_equal(again.image, held.image)  # the picture holds still
        grabber.frozen = False
        grabber.paused = True
        time.sleep(0.05)
        n = grabber.captured
        time.sleep(0.1)
        assert grabber.captured == n  # nothing new while paused
        grabber.paused = False
        assert grabber.wait_frame(after=again.index, timeout=2.0) is not None
    finally:
        grabber.stop()
    mirror_check = FrameGrabber(ImageFileSource(_asymmetric_png(video.parent)), pacing="free")
    mirror_check.mirror = True
    mirror_check.start()
    img = mirror_check.wait_frame(timeout=2.0).image
    mirror_check.stop()
    assert img[0, -1, 0] == 255 and img[0, 0, 0] == 0  # the white left column is now on the right


def _asymmetric_png(folder):
    img = np.zeros((4, 6, 3), np.uint8)
    img[:, 0] = 255
    cv2.imwrite(str(folder / "left.png"), img)
    return folder / "left.png"


def test_disconnection_is_an_event_and_the_source_is_released():
    events = []
    src = FailingSource(good=3)
    grabber = FrameGrabber(src, on_event=events.append, fail_limit=5, retry_s=0.001).start()
    deadline = time.time() + 3
    while not events and time.time() < deadline:
        time.sleep(0.01)
    assert grabber.running and grabber.halted  # no crash: the thread waits for another source
    assert [e.kind for e in events] == ["disconnected"] and "Flaky camera" in events[0].message
    assert "demo" in events[0].message
    grabber.switch_source(DemoSource(32, 32))
    assert grabber.wait_frame(after=2, timeout=2.0).source.startswith("Demo")
    assert src.released  # the old source was let go by the switch
    grabber.stop()


def test_switching_sources_and_stop_releases(video, tmp_path):
    first = VideoFileSource(video)
    grabber = FrameGrabber(first, pacing="free").start()
    assert grabber.wait_frame(timeout=2.0).source == "cam.avi"
    demo = DemoSource(40, 32)
    grabber.switch_source(demo)
    frame = grabber.wait_frame(timeout=2.0)
    deadline = time.time() + 2
    while frame.source != demo.name and time.time() < deadline:
        frame = grabber.wait_frame(after=frame.index, timeout=2.0)
    assert frame.image.shape == (32, 40, 3)
    assert not first.cap.isOpened()  # released on switch
    grabber.stop()
    assert grabber.source is None and not grabber.running


def test_video_that_ends_reports_ended(video):
    events = []
    grabber = FrameGrabber(VideoFileSource(video, loop=False), on_event=events.append, pacing="free").start()
    deadline = time.time() + 3
    while not events and time.time() < deadline:
        grabber.latest()
        time.sleep(0.005)
    grabber.stop()
    assert [e.kind for e in events] == ["ended"]


def test_trash_moves_a_frame_inside_the_root_and_restore_puts_it_back(tmp_path):
    writer = DatasetWriter(tmp_path)
    first, second = (writer.save(np.zeros((8, 8, 3), np.uint8), "cup") for _ in range(2))
    trashed = writer.trash(first)
    assert trashed.parent == tmp_path / TRASH / "cup" and not first.exists()
    assert writer.counts() == {"cup": 1} and writer.files("cup") == [second]
    assert DatasetWriter(tmp_path).counts() == {"cup": 1}  # the trash is no class on a fresh scan either
    writer.restore(trashed, first)
    assert first.exists() and writer.counts() == {"cup": 2} and writer.files("cup") == [first, second]
