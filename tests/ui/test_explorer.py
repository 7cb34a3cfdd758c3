"""The convolution explorer as a student meets it: the lecture's example, stepping, formulas, modes."""

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QImage

from cnnstudio.core import convarith as ca
from cnnstudio.ui.explorer.page import (INPUT_PRESETS, LECTURE_IMAGE, LECTURE_POOL, LECTURE_SERIES, SMALL,
                                   ConvolutionExplorer)


@pytest.fixture
def explorer(qtbot):
    w = ConvolutionExplorer(None)
    qtbot.addWidget(w)
    w.resize(1300, 820)
    w.show()
    qtbot.waitExposed(w)
    return w


def choose(combo, text):
    """Pick ``text`` in ``combo`` the way a click does (``activated`` fires)."""
    index = combo.findText(text)
    assert index >= 0, text
    combo.setCurrentIndex(index)
    combo.activated.emit(index)


def output_texts(w):
    v = w.picture.output_view
    return [[v.text_at(r, c) for c in range(v.values.shape[1])] for r in range(v.values.shape[0])]


def test_lecture_example_filter_1_gives_3_top_left(explorer):
    choose(explorer.input_preset, LECTURE_IMAGE)
    choose(explorer.kernel_preset, "Lecture Filter 1")
    explorer.step_to(0)
    assert explorer.picture.output_view.text_at(0, 0) == "3"
    explorer.step_to(15)  # the last window: the whole map is filled in
    assert output_texts(explorer) == [["3", "−1", "−3", "−1"], ["−3", "1", "0", "−3"],
                                      ["−3", "−3", "0", "1"], ["3", "−2", "−2", "−1"]]


def test_stepping_moves_the_window_and_shows_products_and_sum(explorer, qtbot):
    explorer.step_to(0)
    assert sorted(explorer.picture.input_view.taps) == [(r, c) for r in range(3) for c in range(3)]
    qtbot.keyClick(explorer, Qt.Key_Right)
    assert explorer.current_step == 1
    assert sorted(explorer.picture.input_view.taps) == [(r, c) for r in range(3) for c in range(1, 4)]
    assert explorer.picture.output_view.focus == (0, 1)
    np.testing.assert_array_equal(explorer.picture.products_view.values, ca.LECTURE_IMAGE[:3, 1:4] * ca.LECTURE_FILTER_1)
    assert explorer.picture.expression_label.text().endswith(">−1</b>")  # the sum, out[0, 1] = -1
    assert "out[0, 1]" in explorer.picture.expression_label.text()
    assert explorer.picture.output_view.text_at(0, 2) == ""  # not reached yet
    assert explorer.picture.step_label.text().startswith("Step 2 of 16")
    qtbot.keyClick(explorer, Qt.Key_Left)
    assert explorer.current_step == 0
    explorer.picture.next_button.click()
    explorer.picture.next_button.click()
    assert explorer.current_step == 2 and explorer.picture.step_slider.value() == 2


def test_clicking_an_output_cell_jumps_there(explorer, qtbot):
    view = explorer.picture.output_view
    qtbot.mouseClick(view, Qt.LeftButton, pos=view.cell_rect(2, 1).center().toPoint())
    assert explorer.current_step == 9 and view.focus == (2, 1)


def test_stride_and_padding_update_the_formula(explorer):
    assert "floor((6 + 2*0 − 3)/1) + 1 = 4" in explorer.picture.formula_label.text()
    explorer.stride_spin.setValue(3)
    assert "floor((6 + 2*0 − 3)/3) + 1 = 2" in explorer.picture.formula_label.text()
    assert explorer.operation.output.tolist() == [[3, -1], [3, -1]]
    explorer.stride_spin.setValue(1)
    explorer.padding_combo.setCurrentText("explicit p")
    explorer.pad_spin.setValue(1)
    assert "floor((6 + 2*1 − 3)/1) + 1 = 6" in explorer.picture.formula_label.text()
    assert explorer.picture.input_view.values.shape == (8, 8)  # the lecture's padded 8x8 image
    assert explorer.picture.input_view.muted[0].all() and not explorer.picture.input_view.muted[1, 1]
    explorer.padding_combo.setCurrentText("same")
    assert "output: 6 × 6" in explorer.picture.formula_label.text()
    explorer.step_to(0)
    assert "(5 cell(s) in the padding)" in explorer.picture.step_label.text()


def test_max_and_average_pooling_of_the_lectures_4x4(explorer):
    choose(explorer.input_preset, LECTURE_POOL)
    explorer.mode_combo.setCurrentText(ca.MAX_POOL)
    assert explorer.stride_spin.value() == 2 and explorer.window_rows.value() == 2
    assert not explorer.picture.kernel_view.isVisible()
    explorer.step_to(3)
    assert output_texts(explorer) == [["6", "9"], ["7", "8"]]
    assert explorer.picture.products_view.marks == [(0, 0)]  # the 8 wins in the last window (8 3 / 3 6)
    explorer.mode_combo.setCurrentText(ca.AVERAGE_POOL)
    explorer.step_to(3)
    assert output_texts(explorer) == [["4.5", "7"], ["4.75", "5"]]
    explorer.mode_combo.setCurrentText(ca.CROSS_CORRELATION)
    assert explorer.stride_spin.value() == 1  # convolution keeps its own stride


def test_true_and_transposed_convolution_show_the_rotated_kernel(explorer):
    explorer.mode_combo.setCurrentText(ca.CONVOLUTION)
    assert explorer.picture.flipped_view.isVisible()
    np.testing.assert_array_equal(explorer.picture.flipped_view.values, ca.LECTURE_FILTER_1[::-1, ::-1])
    explorer.mode_combo.setCurrentText(ca.TRANSPOSED)
    explorer.stride_spin.setValue(2)
    assert explorer.picture.input_view.values.shape == (15, 15)  # 6 inputs spread 2 apart, border 2
    assert (~explorer.picture.input_view.muted).sum() == 36  # the rest are inserted zeros and border
    assert "out = n*s + max(f − s, 0) = 6*2 + 1 = 13" in explorer.picture.formula_label.text()
    assert explorer.operation.output.shape == (13, 13)


def test_one_d_mode_brings_the_lecture_series(explorer):
    explorer.mode_combo.setCurrentText(ca.CONV_1D)
    assert explorer.input_preset.currentText() == LECTURE_SERIES
    assert explorer.picture.input_view.values.shape == (1, 11)
    explorer.step_to(1)
    assert explorer.picture.output_view.text_at(0, 1) == "1.815"
    assert explorer.picture.output_view.col_labels[1] == "s6"
    assert explorer.picture.kernel_view.indent == 1  # the weights sit under the window
    assert "s<sub>6</sub>" in explorer.picture.expression_label.text()
    explorer.mode_combo.setCurrentText(ca.CROSS_CORRELATION)
    assert explorer.picture.input_view.values.shape == (6, 6)
    explorer.mode_combo.setCurrentText(ca.CONV_1D)
    choose(explorer.input_preset, LECTURE_POOL)  # a grid in 1-D mode: back to 2-D
    assert explorer.mode == ca.CROSS_CORRELATION and explorer.operation.output.shape == (2, 2)


def test_editing_a_cell_recomputes(explorer, qtbot):
    explorer.step_to(0)
    editor = explorer.picture.kernel_view.open_editor(0, 0)
    editor.setText("2")
    qtbot.keyClick(editor, Qt.Key_Return)
    assert explorer.kernel[0, 0] == 2
    assert explorer.kernel_preset.currentText() == "Edited kernel"
    assert explorer.picture.output_view.text_at(0, 0) == "4"
    explorer.picture.input_view.cell_edited.emit(0, 0, 0.0)
    assert explorer.operation.output[0, 0] == 2


def test_a_window_that_does_not_fit_says_why(explorer):
    explorer.window_rows.setValue(7)
    assert "does not fit" in explorer.picture.error_label.text()
    assert explorer.operation is None and not explorer.picture.step_slider.isEnabled()
    explorer.window_rows.setValue(3)
    assert explorer.picture.error_label.text() == "" and explorer.operation is not None


def test_load_image_and_export_png(explorer, tmp_path):
    image = QImage(64, 32, QImage.Format_RGB32)
    image.fill(QColor("black"))
    for x in range(32, 64):
        for y in range(32):
            image.setPixelColor(x, y, QColor("white"))
    path = tmp_path / "half.png"
    image.save(str(path))
    assert explorer.load_image(path)
    assert explorer.input.shape == (14, 28)  # shrunk to 28 cells on the long side
    assert explorer.input[:, 0].max() == 0 and explorer.input[:, -1].min() == 255
    assert explorer.input_preset.currentText() == "Image: half.png"
    assert not explorer.load_image(tmp_path / "missing.png")
    assert "Cannot read" in explorer.picture.error_label.text()
    out = tmp_path / "explorer.png"
    assert explorer.export_png(out)
    assert QImage(str(out)).width() > 400


def test_play_steps_on_a_timer(explorer, qtbot):
    explorer.play_timer.setInterval(30)
    explorer.step_to(13)
    explorer.picture.play_button.click()
    qtbot.waitUntil(lambda: explorer.current_step == 15, timeout=3000)
    qtbot.waitUntil(lambda: not explorer.picture.play_button.isChecked(), timeout=3000)


def test_every_input_preset_computes(explorer):
    for name in INPUT_PRESETS:
        choose(explorer.input_preset, name)
        assert explorer.operation is not None, name
    choose(explorer.input_preset, SMALL)  # the lecture's transposed-convolution figure
    assert explorer.mode == ca.TRANSPOSED and explorer.stride_spin.value() == 2
    assert explorer.operation.output.shape == (5, 5) and explorer.operation.canvas.shape == (7, 7)
