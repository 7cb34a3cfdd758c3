"""The one progress rule (Training page and ``cnnstudio train``): fed batches on a fake clock,
fraction done, images/s over the recent window and the time left come out exact."""

import math

import pytest

from cnnstudio.ml.training.progress import TrainingProgress, format_duration

# 70 images in batches of 16: 5 steps an epoch, the last one holds 6 images
INFO = {"epochs": 3, "initial_epoch": 0, "steps_per_epoch": 5, "batch_size": 16, "samples": 70, "run": ""}


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def fed(info=INFO, window_s=3.0):
    clock = FakeClock()
    progress = TrainingProgress(clock, window_s=window_s)
    progress.start(info)
    return progress, clock


def test_before_any_batch_nothing_is_done_and_the_time_left_is_unknown():
    p, _ = fed()
    assert (p.done, p.total, p.fraction, p.rate) == (0, 15, 0.0, 0.0)
    assert math.isnan(p.eta_s) and p.line() == "epoch 0/3 · 0 samples/s · – left"


def test_rate_and_time_left_are_exact_at_a_steady_pace():
    p, clock = fed()
    for step in (1, 2, 3):
        p.batch(step, 1)
        clock.now += 0.5
    # three batches ended 0.5 s apart: two batches of 16 images took 1 s since the first
    assert p.rate == pytest.approx(32.0)
    assert (p.done, p.epoch_step, p.fraction) == (3, 3, pytest.approx(0.2))
    assert p.eta_s == pytest.approx(12 * 0.5) and p.epoch_eta_s == pytest.approx(2 * 0.5)
    assert p.epoch_position == pytest.approx(0.6)
    assert p.line() == "epoch 1/3 · 32 samples/s · 6 s left"


def test_the_last_batch_of_an_epoch_counts_its_own_images():
    p, clock = fed(window_s=10.0)
    for step in range(1, 6):
        p.batch(step, 1)
        clock.now += 1.0
    assert p.rate == pytest.approx((16 * 3 + 6) / 4.0)
    assert p.epoch_step == 5 and p.epoch_eta_s == 0 and p.epoch_position == pytest.approx(1.0)


def test_only_the_recent_window_sets_the_pace():
    p, clock = fed(window_s=3.0)
    p.batch(1, 1)
    clock.now += 10.0  # a slow first batch (tracing) or a pause
    for step in (2, 3, 4):
        p.batch(step, 1)
        clock.now += 1.0
    assert p.rate == pytest.approx(32.0 / 2.0)  # batches 2..4; batch 1 fell out of the window
    assert p.eta_s == pytest.approx(11 * 1.0)


def test_epochs_count_from_their_first_batch_seen_so_a_resumed_run_lines_up():
    # resumed after 2 whole epochs and a stopped third (global steps went on to 13)
    p, clock = fed({**INFO, "epochs": 5, "initial_epoch": 2})
    for step in range(14, 19):
        p.batch(step, 3)
        clock.now += 2.0
    p.batch(19, 4)
    assert (p.epoch, p.epoch_step, p.done, p.total) == (4, 1, 6, 15)
    assert p.epoch_position == pytest.approx(3.2)
    assert p.eta_s == pytest.approx(9 * 2.0)


def test_start_forgets_the_last_run():
    p, clock = fed()
    for step in (1, 2):
        p.batch(step, 1)
        clock.now += 1.0
    p.start({**INFO, "epochs": 1})
    assert (p.done, p.total, p.rate) == (0, 5, 0.0) and math.isnan(p.eta_s)


@pytest.mark.parametrize("seconds, text", [(0.4, "0 s"), (42.4, "42 s"), (59.6, "1:00"), (187, "3:07"),
                                           (math.nan, "–"), (math.inf, "–")])
def test_durations_read_as_seconds_then_minutes(seconds, text):
    assert format_duration(seconds) == text
