"""Data sources, splits, class balance, samples, tf.data and the shape check before training."""

import cv2
import keras
import numpy as np
import pytest

from cnnstudio.core.settings import DataSource, Preprocessing
from cnnstudio.core.templates import TEMPLATES
from cnnstudio.ml.data.datasets import check_fits, load_dataset, stratified_split
from cnnstudio.ml.data.sources import DataError

GREY32 = Preprocessing.default()  # 32x32 grey, 0..1, stretched


def source(values: dict) -> DataSource:
    """The default data settings with ``values``."""
    return DataSource.default().replace(**values)


def _folder(tmp_path, per_class=6):
    """Two class folders of small PNG/JPG images, a text file posing as a PNG, and a truncated PNG."""
    rng = np.random.default_rng(0)
    for cls, value in (("dark", 40), ("light", 220)):
        (tmp_path / cls).mkdir()
        for i in range(per_class):
            img = np.clip(rng.normal(value, 10, (20, 24, 3)), 0, 255).astype(np.uint8)
            cv2.imwrite(str(tmp_path / cls / f"{i}.{'png' if i % 2 else 'jpg'}"), img)
    (tmp_path / "dark" / "notes.png").write_text("this is not an image")
    good = (tmp_path / "light" / "0.jpg").read_bytes()
    (tmp_path / "light" / "cut.jpg").write_bytes(good[:40])  # a valid header, then nothing
    (tmp_path / "light" / "readme.txt").write_text("ignored: not an image suffix")
    return tmp_path


def test_folder_source_skips_unreadable_files_lists_them_and_streams_the_rest(tmp_path):
    root = _folder(tmp_path)
    data = source({"kind": "folder", "path": str(root), "validation_split": 0.0, "test_split": 0.0})
    ds = load_dataset(data, GREY32)
    assert ds.classes == ["dark", "light"] and ds.streamed
    assert [p.endswith("notes.png") for p, _ in ds.skipped] == [True]
    images, labels = [], []
    for x, y in ds.tf_dataset("train", 4).as_numpy_iterator():
        images.append(x)
        labels.append(y)
    x, y = np.concatenate(images), np.concatenate(labels)
    assert x.shape == (12, 32, 32, 1) and x.dtype == np.float32
    assert np.bincount(y).tolist() == [6, 6]
    assert x[y == 0].mean() < 0.3 < 0.7 < x[y == 1].mean()  # images land in their own class
    assert sorted(p.rsplit("/", 1)[-1] for p, _ in ds.skipped) == ["cut.jpg", "notes.png"]


def test_folder_problems_are_messages_not_crashes(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        load_dataset(source({"kind": "folder", "path": str(tmp_path / "nope")}), GREY32)
    (tmp_path / "only").mkdir()
    with pytest.raises(DataError, match="one sub-folder per class"):
        load_dataset(source({"kind": "folder", "path": str(tmp_path)}), GREY32)


def test_npz_with_x_and_y_is_split_and_preprocessed(tmp_path):
    x = np.random.default_rng(0).integers(0, 255, (40, 28, 28), np.uint8)
    y = np.arange(40) % 4
    np.savez(tmp_path / "d.npz", x=x, y=y, classes=np.array(["a", "b", "c", "d"]))
    ds = load_dataset(source({"kind": "npz", "path": str(tmp_path / "d.npz"), "validation_split": 0.25,
                       "test_split": 0.25, "seed": 1}), GREY32)
    assert ds.classes == ["a", "b", "c", "d"]
    counts = ds.class_counts()
    assert sum(map(sum, counts.values())) == 40
    assert len(set(counts["train"])) == 1 and counts["val"] == counts["test"]  # every class split alike
    xs, ys = ds.arrays("train")
    assert xs.shape[1:] == (32, 32, 1) and 0.0 <= xs.min() and xs.max() <= 1.0


def test_npz_with_its_own_test_split_keeps_it(tmp_path):
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "d.npz", x_train=rng.random((30, 32, 32, 3)), y_train=np.eye(3)[np.arange(30) % 3],
             x_test=rng.integers(0, 255, (9, 32, 32, 3), np.uint8), y_test=np.arange(9) % 3)
    ds = load_dataset(source({"kind": "npz", "path": str(tmp_path / "d.npz"), "validation_split": 0.2}), GREY32)
    assert ds.size("test") == 9 and ds.size("train") + ds.size("val") == 30
    assert ds.class_counts()["test"] == [3, 3, 3]


def test_npz_without_known_keys_says_which_keys_it_wants(tmp_path):
    np.savez(tmp_path / "d.npz", images=np.zeros((3, 8, 8)))
    with pytest.raises(DataError, match="x and y"):
        load_dataset(source({"kind": "npz", "path": str(tmp_path / "d.npz")}), GREY32)


def test_keras_dataset_offline_gives_a_clear_message(monkeypatch):
    def no_network():
        raise Exception("URL fetch failure on https://example.invalid/mnist.npz: None -- [Errno -3] "
                        "Temporary failure in name resolution")

    monkeypatch.setattr(keras.datasets.mnist, "load_data", no_network)
    with pytest.raises(DataError, match="cannot download MNIST: no internet connection") as err:
        load_dataset(source({"kind": "keras", "name": "mnist"}), GREY32)
    assert "offline" in str(err.value)


def test_keras_dataset_keeps_its_test_split(monkeypatch):
    x = np.zeros((50, 28, 28), np.uint8)
    y = np.arange(50) % 10
    monkeypatch.setattr(keras.datasets.fashion_mnist, "load_data", lambda: ((x, y), (x[:20], y[:20])))
    ds = load_dataset(source({"kind": "keras", "name": "fashion_mnist", "validation_split": 0.2}), GREY32)
    assert ds.classes[0] == "T-shirt/top" and ds.size("test") == 20 and ds.size("val") == 10


def test_split_is_seeded_stratified_and_complete():
    labels = np.repeat(np.arange(3), [50, 30, 20])
    a = stratified_split(labels, (0.2, 0.1), seed=4)
    b = stratified_split(labels, (0.2, 0.1), seed=4)
    assert all(np.array_equal(p, q) for p, q in zip(a, b))
    assert sorted(np.concatenate(a).tolist()) == list(range(100))
    assert np.bincount(labels[a[0]]).tolist() == [10, 6, 4]


def test_shapes_source_class_balance_and_samples_as_the_model_sees_them():
    ds = load_dataset(source({"kind": "shapes", "options": {"count": 120}, "seed": 0}), GREY32.replace(color="rgb"))
    counts = ds.class_counts()
    assert sum(map(sum, counts.values())) == 120 and counts["train"] == [14] * 6
    images, labels = ds.samples("train", 9)
    assert images.shape == (9, 32, 32, 3) and images.dtype == np.uint8 and len(labels) == 9


def test_data_that_does_not_fit_the_model_names_both_shapes():
    ds = load_dataset(source({"kind": "shapes", "options": {"count": 60}}), GREY32)
    model = keras.Sequential([keras.Input((28, 28, 3)), keras.layers.Flatten(), keras.layers.Dense(6)])
    with pytest.raises(DataError) as err:
        check_fits(model, ds)
    assert "32x32x1" in str(err.value) and "28x28x3" in str(err.value)
    wrong_classes = keras.Sequential([keras.Input((32, 32, 1)), keras.layers.Flatten(), keras.layers.Dense(4)])
    with pytest.raises(DataError, match="6 classes .* 4 units"):
        check_fits(wrong_classes, ds)


@pytest.mark.parametrize("stem", sorted(TEMPLATES))
def test_every_template_trains_offline_on_its_own_data(stem):
    """Each template opens on a data source that loads without the internet and fits its output."""
    project = TEMPLATES[stem][1]()
    project.set_settings("data", {"options": {**project.data.options, "count": 2 * len(project.classes)}})
    ds = load_dataset(project.data, project.preprocessing)
    assert ds.classes == project.classes
    assert ds.input_shape == tuple(project.graph.input_nodes()[0].params["shape"])


def _split_folder(root, counts: dict[str, int], classes=("cat", "dog")):
    """``root/<split>/<class>/i.png`` with ``counts[split]`` images per class, dark cats, light dogs."""
    for split, n in counts.items():
        for cls, value in zip(classes, (40, 220)):
            (root / split / cls).mkdir(parents=True)
            for i in range(n):
                cv2.imwrite(str(root / split / cls / f"{i}.png"), np.full((12, 10, 3), value, np.uint8))
    return root


def test_pre_split_folders_are_splits_not_classes(tmp_path):
    root = _split_folder(tmp_path, {"train": 5, "validation": 2, "test": 3})
    ds = load_dataset(source({"kind": "folder", "path": str(root)}), GREY32)
    assert ds.classes == ["cat", "dog"] and ds.streamed
    assert ds.class_counts() == {"train": [5, 5], "val": [2, 2], "test": [3, 3]}
    assert all("/validation/" in p for p in ds.splits["val"].paths)
    assert "split as given: train 10, val 4, test 6" in ds.description
    x, y = next(ds.tf_dataset("test", 6).as_numpy_iterator())
    assert x[y == 0].mean() < 0.3 < 0.7 < x[y == 1].mean()


def test_a_missing_split_folder_is_carved_from_train(tmp_path):
    root = _split_folder(tmp_path, {"train": 10, "val": 2})
    ds = load_dataset(source({"kind": "folder", "path": str(root), "test_split": 0.2}), GREY32)
    assert ds.class_counts() == {"train": [8, 8], "val": [2, 2], "test": [2, 2]}


def test_a_split_with_a_class_training_lacks_is_refused_by_name(tmp_path):
    root = _split_folder(tmp_path, {"train": 2})
    _split_folder(tmp_path, {"test": 1}, classes=("cat", "cow"))
    with pytest.raises(DataError, match=r"class folder\(s\) cow are not in the training classes \(cat, dog\)"):
        load_dataset(source({"kind": "folder", "path": str(root)}), GREY32)


def test_a_class_folder_called_test_beside_others_is_still_a_class(tmp_path):
    for cls in ("test", "control"):
        (tmp_path / cls).mkdir()
        cv2.imwrite(str(tmp_path / cls / "a.png"), np.zeros((8, 8, 3), np.uint8))
    ds = load_dataset(source({"kind": "folder", "path": str(tmp_path), "validation_split": 0.0,
                              "test_split": 0.0}), GREY32)
    assert ds.classes == ["control", "test"]


def _gif(path, colours):
    animation = cv2.Animation()
    animation.frames = [np.full((10, 12, 3), c, np.uint8) for c in colours]  # BGR
    animation.durations = [100] * len(colours)
    assert cv2.imwriteanimation(str(path), animation)


def test_gif_files_are_read_as_their_first_frame(tmp_path, monkeypatch):
    from cnnstudio.ml.data import sources

    _gif(tmp_path / "a.gif", [(0, 0, 255), (255, 0, 0)])  # red, then blue
    first = sources.read_image(str(tmp_path / "a.gif"))
    assert first.shape == (10, 12, 3) and first[0, 0, 0] > 200 and first[0, 0, 2] < 50  # red, as RGB
    monkeypatch.setattr(sources.cv2, "imread", lambda *args: None)  # an OpenCV without a GIF decoder
    np.testing.assert_array_equal(sources.read_image(str(tmp_path / "a.gif")), first)


def test_gif_images_in_class_folders_are_listed_and_streamed(tmp_path):
    root = _split_folder(tmp_path, {"train": 2})
    _gif(root / "train" / "cat" / "moving.gif", [(40, 40, 40), (220, 220, 220)])
    ds = load_dataset(source({"kind": "folder", "path": str(root), "validation_split": 0.0, "test_split": 0.0}),
                      GREY32)
    assert ds.size("train") == 5 and any(p.endswith("moving.gif") for p in ds.splits["train"].paths)
    x, y = next(ds.tf_dataset("train", 5).as_numpy_iterator())
    assert x.shape == (5, 32, 32, 1) and not ds.skipped
