"""The runtime on the shipped model: Classifier API, threads, contract checks, input files."""

from __future__ import annotations

import hashlib
import json
import shutil
import threading
import zlib

import numpy as np
import pytest
from conftest import needs_data
from photos import KINDS, decompression_bomb, write_photo

from fmnist import CLASS_NAMES, folders
from fmnist.errors import ContractError, FmnistError
from fmnist.runtime import Classifier, InputError, inputs, load_image
from fmnist.runtime.classifier import LOW_CONFIDENCE as LOW

SHIPPED = ["tflite-int8", "onnx-int8", "onnx"]


@pytest.fixture(scope="module")
def images(real_data):
    return real_data.x_test[:64]


def test_shipped_model_is_small_and_matches_its_manifest():
    manifest = json.loads((folders.SHIPPED / "manifest.json").read_text())
    files = sorted(p.name for p in folders.SHIPPED.iterdir())
    assert files == [
        "fmnist_model.c", "fmnist_model.h", "golden.npz", "manifest.json", "model.int8.onnx", "model.int8.tflite",
        "model.onnx", "model_data.cc", "model_data.h", "model_ops.h",
    ]  # fmt: skip
    assert sum(len(zlib.compress((folders.SHIPPED / f).read_bytes())) for f in files) <= 1_000_000  # in a wheel
    for entry in manifest["artifacts"].values():
        body = (folders.SHIPPED / entry["file"]).read_bytes()
        assert len(body) == entry["bytes"] and hashlib.sha256(body).hexdigest() == entry["sha256"]
    training = manifest["source"]["training"]
    assert training["command"].startswith("fmnist train --arch edge-n8 --epochs 60 --erase 0.5 --ema 0.999")
    assert training["seed"] in (0, 1, 2)  # benchmarks/ship.sh: the best of three seeds on validation
    assert (
        manifest["command"].startswith("fmnist export") and "--out fmnist/runtime/default_model" in manifest["command"]
    )
    assert manifest["later_commands"] == ["fmnist export fmnist/runtime/default_model --format tflm,c"]


@needs_data
@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_model_scores_what_its_manifest_says(real_data, name):
    from fmnist.runtime.evaluate import evaluate

    classifier = Classifier.load(name)
    result = evaluate(classifier, real_data.x_test, real_data.y_test)
    counted = int((classifier.predict(real_data.x_test) == real_data.y_test).sum())
    assert result["images"] == 10_000 and result["accuracy"] == counted / 10_000
    assert result["accuracy"] == classifier.entry.verified["accuracy"]  # the same runtime, the same images


@needs_data
@pytest.mark.parametrize("name", ["tflite-int8", "onnx-int8"])
def test_int8_answers_stay_within_a_few_output_steps_of_the_float_model(real_data, name):
    """The float ONNX model, run by another runtime, is the independent truth for the int8 ones.
    Measured on the 10,000 test images (one step is 0.045): |Δ logit| 0.93 steps on average, 3.3
    at the 99th percentile, 13.2 at most; |Δ probability| 0.0015 on average, 0.080 at most; the
    same label on 99.62 %. A wrong scale or zero point moves the logits by many steps."""
    with np.load(folders.SHIPPED / "golden.npz") as golden:
        step = float(golden[f"{name}.tolerance"])
    from fmnist.runtime.classifier import softmax

    quantised, truth = (Classifier.load(model).logits(real_data.x_test) for model in (name, "onnx"))
    delta = np.abs(quantised - truth) / step
    assert delta.mean() <= 1.2 and np.percentile(delta, 99) <= 4.5 and delta.max() <= 16
    proba = np.abs(softmax(quantised) - softmax(truth))
    assert proba.mean() <= 0.002 and proba.max() <= 0.1
    assert (quantised.argmax(1) == truth.argmax(1)).mean() >= 0.995


def test_default_is_the_int8_tflite_with_class_names_from_the_file():
    classifier = Classifier.load()
    assert classifier.path.name == "model.int8.tflite" and classifier.precision == "int8"
    assert classifier.runtime == "ai-edge-litert"
    assert classifier.class_names == CLASS_NAMES


@needs_data
@pytest.mark.parametrize("name", SHIPPED)
def test_predict_proba_top_k_agree(images, name):
    classifier = Classifier.load(name, threads=1)
    proba = classifier.predict_proba(images)
    assert proba.shape == (64, 10) and proba.dtype == np.float32
    np.testing.assert_allclose(proba.sum(axis=1), 1, atol=1e-5)
    labels = classifier.predict(images)
    np.testing.assert_array_equal(labels, proba.argmax(axis=1))
    top, p = classifier.top_k(images, 3)
    np.testing.assert_array_equal(top[:, 0], labels)
    assert (np.diff(p, axis=1) <= 0).all()
    # the same image as [28,28], [1,28,28] and [1,28,28,1]
    for shaped in (images[5], images[5:6], images[5:6, ..., None]):
        assert classifier.predict(shaped).tolist() == [labels[5]]
    assert classifier.predict(images[:0]).shape == (0,)


@needs_data
@pytest.mark.parametrize("name", ["tflite-int8", "onnx"])
def test_one_classifier_shared_by_8_threads_gives_single_thread_answers(images, name):
    classifier = Classifier.load(name, threads=1)
    jobs = [images[t : t + 1 + 3 * t] for t in range(8)]  # different batch sizes force resizes
    expected = [classifier.predict_proba(job) for job in jobs]
    results, barrier = [[] for _ in jobs], threading.Barrier(len(jobs))

    def work(t):
        barrier.wait()
        for _ in range(150):
            results[t].append(classifier.predict_proba(jobs[t]))

    threads = [threading.Thread(target=work, args=(t,)) for t in range(len(jobs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for t, got in enumerate(results):
        assert len(got) == 150
        for proba in got:
            np.testing.assert_array_equal(proba, expected[t])


def test_pixels_of_the_wrong_kind_are_refused():
    classifier = Classifier.load()
    with pytest.raises(FmnistError, match="uint8"):
        classifier.predict(np.zeros((2, 28, 28), np.float32))
    with pytest.raises(FmnistError, match=r"\[N, 28, 28, 1\]"):
        classifier.predict(np.zeros((2, 32, 32), np.uint8))
    with pytest.raises(FmnistError, match="top-k"):
        classifier.top_k(np.zeros((28, 28), np.uint8), 11)


def test_model_argument_resolution(tmp_path, monkeypatch):
    from fmnist import formats

    assert Classifier.load("onnx").path == folders.SHIPPED / "model.onnx"
    assert Classifier.load(folders.SHIPPED).path.name == "model.int8.tflite"
    with pytest.raises(
        FmnistError,
        match=r"missing.onnx: no such file or folder; name a run folder, an export folder, a .onnx, .tflite, .cc or .c "
        r"file, or a format of the shipped model \(onnx, onnx-int8, tflite-int8, tflm, c\)$",
    ):
        Classifier.load(tmp_path / "missing.onnx")
    with pytest.raises(FmnistError, match="shipped model has no tflite artifact"):
        Classifier.load("tflite")
    with pytest.raises(FmnistError, match=r"no model file in this folder; name a run folder, an export folder"):
        Classifier.load(tmp_path)
    shutil.copy(folders.SHIPPED / "model.onnx", tmp_path)
    monkeypatch.setattr(formats, "installed", lambda family: family != "onnx")  # a LiteRT-only install
    with pytest.raises(
        FmnistError, match=r"no runtime installed for its models; pip install 'fmnist\[onnx\]' \(onnxruntime\)$"
    ):
        Classifier.load(tmp_path)
    monkeypatch.undo()
    (tmp_path / "model.onnx").unlink()
    (tmp_path / "model.txt").write_text("x")
    with pytest.raises(FmnistError, match=r"model.txt: not a model file; name a run folder, an export folder"):
        Classifier.load(tmp_path / "model.txt")
    (tmp_path / "model.onnx").write_bytes(b"garbage")
    with pytest.raises(FmnistError, match="not a loadable ONNX model"):
        Classifier.load(tmp_path / "model.onnx")
    (tmp_path / "model.tflite").write_bytes(b"garbage" * 10)
    with pytest.raises(FmnistError, match="not a loadable TFLite model"):
        Classifier.load(tmp_path / "model.tflite")


def _rewrite_onnx(tmp_path, edit, name="model.onnx"):
    import onnx

    model = onnx.load(folders.SHIPPED / "model.onnx")
    edit(model)
    path = tmp_path / name
    onnx.save(model, path)
    return path


def test_class_names_come_from_the_manifest_when_the_file_has_none(tmp_path):
    path = _rewrite_onnx(tmp_path, lambda m: m.metadata_props.__delitem__(slice(None)))
    with pytest.raises(ContractError, match="no class names"):
        Classifier.load(path)
    manifest = json.loads((folders.SHIPPED / "manifest.json").read_text())
    manifest["artifacts"]["onnx"]["sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    assert Classifier.load(path).class_names == CLASS_NAMES


def test_models_outside_the_contract_are_refused(tmp_path):
    from onnx import TensorProto

    def float_input(model):
        model.graph.input[0].type.tensor_type.elem_type = TensorProto.FLOAT

    def newer_contract(model):
        meta = json.loads(model.metadata_props[0].value)
        model.metadata_props[0].value = json.dumps({**meta, "contract": 2})

    with pytest.raises(
        ContractError, match=r"takes float \[N, 28, 28, 1\] and returns \[N, 10\]; an fmnist model takes uint8"
    ):
        Classifier.load(_rewrite_onnx(tmp_path, float_input, "float.onnx"))
    with pytest.raises(ContractError, match="model contract 2"):
        Classifier.load(_rewrite_onnx(tmp_path, newer_contract, "v2.onnx"))


@needs_data
@pytest.mark.parametrize("kind", KINDS)
def test_photos_of_every_mode_read_like_the_dataset_image(real_data, tmp_path, kind):
    classifier = Classifier.load("onnx")
    images = real_data.x_test[:100]  # enough that one or two hard images do not decide it
    pixels = np.stack(
        [load_image(write_photo(image, kind, tmp_path, str(i), seed=i)) for i, image in enumerate(images)]
    )
    assert pixels.shape == (100, 28, 28) and pixels.dtype == np.uint8
    difference = np.abs(pixels.astype(int) - images).mean(axis=(1, 2))
    assert np.median(difference) < 25  # bright garment on black, in the same place and size
    agreement = (classifier.predict(pixels) == classifier.predict(images)).mean()
    assert agreement >= 0.9, f"{kind}: {agreement:.0%} of photos read as their dataset image"


@needs_data
def test_arrays_and_idx_files_are_read_as_they_are(images, tmp_path):
    import gzip

    np.save(tmp_path / "a.npy", images[:5])
    np.save(tmp_path / "b.npy", images[:3, ..., None])
    header = (0x0803).to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in (4, 28, 28))
    (tmp_path / "t10k-images-idx3-ubyte.gz").write_bytes(gzip.compress(header + images[:4].tobytes()))
    (tmp_path / "c.IDX").write_bytes(header + images[:4].tobytes())
    (tmp_path / "d.idx.gz").write_bytes(gzip.compress(header + images[:4].tobytes()))
    np.testing.assert_array_equal(inputs.read(tmp_path / "a.npy")[..., 0], images[:5])
    np.testing.assert_array_equal(inputs.read(tmp_path / "b.npy")[..., 0], images[:3])
    for idx in ("t10k-images-idx3-ubyte.gz", "c.IDX", "d.idx.gz"):
        np.testing.assert_array_equal(inputs.read(tmp_path / idx)[..., 0], images[:4])
    assert [p.name for p in inputs.walk([tmp_path]).files] == [
        "a.npy", "b.npy", "c.IDX", "d.idx.gz", "t10k-images-idx3-ubyte.gz",
    ]  # fmt: skip


def test_a_folder_walk_follows_linked_folders_once_and_says_what_it_passed_over(tmp_path):
    from PIL import Image

    photos, elsewhere = tmp_path / "photos", tmp_path / "elsewhere"
    (photos / "sub").mkdir(parents=True)
    elsewhere.mkdir()
    garment = Image.new("L", (40, 40), 250)
    garment.paste(0, (10, 5, 30, 35))
    (photos / "sub" / "zz").mkdir()  # walked after the link back up
    (photos / ".cache").mkdir()  # hidden: never walked
    for folder, name in (
        (photos, "a.png"),
        (photos / "sub", "b.jpg"),
        (elsewhere, "c.png"),
        (photos / "sub" / "zz", "d.png"),
        (photos / ".cache", "e.png"),
    ):
        garment.save(folder / name)
    (photos / "linked").symlink_to(elsewhere)  # a linked folder is walked
    (photos / "sub" / "loop").symlink_to(photos)  # a link back up is not walked again
    (photos / "phone.heic").write_bytes((photos / "a.png").read_bytes())
    (photos / ".hidden.png").write_bytes(b"")
    found = inputs.walk([photos, photos / "phone.heic"])
    assert [str(p.relative_to(photos)) for p in found.files] == [
        "a.png", "linked/c.png", "sub/b.jpg", "sub/zz/d.png", "phone.heic",
    ]  # fmt: skip
    assert [(str(p.relative_to(photos)), why) for p, why in found.skipped] == [
        ("phone.heic", "unsupported type"),
        ("sub/loop", "link back to a folder already walked"),
    ]
    assert inputs.read(photos / "phone.heic").shape == (1, 28, 28, 1)  # named, it is read whatever its suffix


def test_a_blank_image_has_no_garment_to_classify(tmp_path):
    from PIL import Image

    for name, image in {
        "white.jpg": Image.new("RGB", (300, 400), "white"),
        "black.png": Image.new("L", (28, 28), 0),
        "faint.png": Image.new("L", (50, 50), 240),
    }.items():
        image.save(tmp_path / name)
        with pytest.raises(InputError, match=f"{name}: no garment found: the image is blank once its background"):
            load_image(tmp_path / name)


def _bad_files(folder, good_png):
    """name -> (path, the words its error must contain)."""
    folder.mkdir()
    png = good_png.read_bytes()
    (folder / "text.png").write_text("not an image")
    (folder / "truncated.png").write_bytes(png[: len(png) // 2])
    (folder / "empty.jpg").write_bytes(b"")
    decompression_bomb(folder / "bomb.png")
    (folder / "folder.png").mkdir()
    (folder / "broken.png").symlink_to(folder / "gone.png")
    np.save(folder / "pickled.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    np.save(folder / "shape.npy", np.zeros((2, 32, 32), np.uint8))
    np.save(folder / "float.npy", np.zeros((2, 28, 28), np.float32))
    np.save(folder / "rgb.npy", np.zeros((2, 28, 28, 3), np.uint8))
    (folder / "fake.npy").write_text("hello")
    np.save(folder / "cut.npy", np.zeros((2, 28, 28), np.uint8))
    (folder / "cut.npy").write_bytes((folder / "cut.npy").read_bytes()[:200])
    (folder / "cut-images-idx3-ubyte").write_bytes(
        (0x0803).to_bytes(4, "big") + b"\0\0\0\x05" + b"\0\0\0\x1c" * 2 + b"\0" * 99
    )
    (folder / "t10k-labels-idx1-ubyte").write_bytes((0x0801).to_bytes(4, "big") + b"\0\0\0\x02" + b"\x03\x07")
    expected = "expected uint8 [N, 28, 28] or [N, 28, 28, 1]"
    return {
        "text.png": "not an image Pillow can read",
        "truncated.png": "cannot decode the image (",
        "empty.jpg": "empty file",
        "bomb.png": "image is too large (over 178,956,970 pixels): refused as a possible decompression bomb",
        "folder.png": "a folder with no images, .npy or IDX files in it",
        "broken.png": "a broken symbolic link",
        "pickled.npy": "cannot load the array: it holds Python objects, which are never unpickled",
        "shape.npy": f"holds uint8 [2, 32, 32]; {expected}",
        "float.npy": f"holds float32 [2, 28, 28]; {expected}",
        "rgb.npy": f"holds uint8 [2, 28, 28, 3]; {expected}",
        "fake.npy": "not a .npy file (no NumPy header)",
        "cut.npy": "cannot load the array: Failed to read all data for array",  # numpy's words, not a guess
        "cut-images-idx3-ubyte": "truncated: 99 data bytes for dims (5, 28, 28), expected 3920",
        "t10k-labels-idx1-ubyte": "this IDX file holds labels, not images",
    }


def test_every_bad_file_gets_an_error_naming_it(tmp_path):
    good = tmp_path / "good.png"
    from PIL import Image

    image = Image.new("L", (50, 80), 255)
    image.paste(0, (10, 10, 40, 70))  # a dark garment on white
    image.save(good)
    expected = _bad_files(tmp_path / "bad", good)
    for name, words in expected.items():
        with pytest.raises(InputError) as caught:
            inputs.read(tmp_path / "bad" / name)
        message = str(caught.value)
        assert message.startswith(f"{tmp_path / 'bad' / name}: {words}"), message
        assert "\n" not in message
    with pytest.raises(InputError, match=r": no such file$"):
        inputs.read(tmp_path / "missing.png")
    assert inputs.read(good).shape == (1, 28, 28, 1)


def test_huge_photo_below_the_bomb_limit_is_read(tmp_path):
    from PIL import Image

    image = Image.new("L", (6000, 4000), 250)
    image.paste(0, (2000, 1000, 4000, 2000))  # a dark 2:1 garment
    image.save(tmp_path / "big.png")
    pixels = load_image(tmp_path / "big.png")
    assert pixels.shape == (28, 28) and pixels.max() == 255
    assert (pixels[8:20, 1:-1] >= 250).all() and (pixels[:6] == 0).all() and (pixels[22:] == 0).all()  # 28×14, centred


def test_manifest_entry_is_found_beside_a_copied_model(tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(folders.SHIPPED, copy)
    classifier = Classifier.load(copy / "model.onnx")
    assert classifier.entry.precision == "float32" and classifier.entry.family == "onnx"
    assert classifier.manifest.folder == copy and classifier.manifest.source["training"]["arch"] == "edge-n8"
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["artifacts"]["onnx"]["sha256"] = "0" * 64  # another file than this one
    (copy / "manifest.json").write_text(json.dumps(manifest))
    assert Classifier.load(copy / "model.onnx").entry is None


@pytest.mark.parametrize("megapixels", [108, 200])
def test_phone_photos_are_decoded_at_a_reduced_scale(tmp_path, megapixels):
    """What current phones take: 12,000 × 9,000 and 16,320 × 12,240 pixels, decoded at 1/8."""
    from PIL import Image

    width, height = {108: (12_000, 9_000), 200: (16_320, 12_240)}[megapixels]
    image = Image.new("L", (width, height), 250)
    image.paste(0, (width // 3, height // 4, 2 * width // 3, 3 * height // 4))  # a dark garment
    image.save(tmp_path / "phone.jpg", quality=20)
    pixels = load_image(tmp_path / "phone.jpg")
    assert pixels.shape == (28, 28) and pixels.max() == 255 and pixels[0, 0] == 0


def test_bombs_stay_refused_with_the_limit_and_the_override(tmp_path, monkeypatch):
    from photos import decompression_bomb, jpeg_claiming, png_claiming

    with pytest.raises(InputError, match=r"bomb.png: image is too large \(over 178,956,970 pixels\): refused"):
        load_image(decompression_bomb(tmp_path / "bomb.png"))  # 30,000 × 30,000 in 200 bytes
    large = png_claiming(tmp_path / "large.png", 10_000, 10_000)
    with pytest.raises(InputError, match=r"large.png: 10000×10000 pixels to decode, more than the 89,478,485 allowed"):
        load_image(large)
    jpeg = jpeg_claiming(tmp_path / "huge.jpg", 60_000, 60_000)  # the most a JPEG can claim is 65,535²
    assert jpeg.stat().st_size < 1000
    monkeypatch.setenv("FMNIST_MAX_PIXELS", "1000000")
    with pytest.raises(
        InputError, match=r"7500×7500 pixels to decode, more than the 1,000,000 allowed .*FMNIST_MAX_PIXELS"
    ):
        load_image(jpeg)  # decoded at 1/8 scale, and the limit counts that


def test_precision_recall_f1_and_the_most_confused_pairs():
    from fmnist.metrics import confusion_matrix, most_confused, per_class_scores

    y = np.array([0, 0, 0, 0, 6, 6, 6, 6, 1, 1])
    predicted = np.array([0, 0, 0, 6, 6, 6, 0, 0, 1, 1])  # one T-shirt taken for a shirt, two shirts for T-shirts
    matrix = confusion_matrix(y, predicted)
    scores = per_class_scores(matrix)
    assert scores["T-shirt/top"] == pytest.approx({"precision": 3 / 5, "recall": 3 / 4, "f1": 2 / 3})
    assert scores["Trouser"] == {"precision": 1.0, "recall": 1.0, "f1": 1.0}
    assert scores["Dress"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0}  # never seen, never predicted
    assert most_confused(matrix) == [
        {"true": "Shirt", "predicted": "T-shirt/top", "images": 2},
        {"true": "T-shirt/top", "predicted": "Shirt", "images": 1},
    ]


def test_the_shipped_model_passes_its_own_check():
    from fmnist.runtime.check import check

    outcomes = check()
    assert [o.format for o in outcomes] == ["onnx", "onnx-int8", "tflite-int8", "tflm", "c"]
    assert all(o.passed and not o.changed and o.max_delta <= o.tolerance for o in outcomes)


def test_a_missing_runtime_names_the_extra_that_installs_it(monkeypatch):
    from fmnist import formats
    from fmnist.errors import MissingExtra
    from fmnist.runtime import backends

    shipped = folders.SHIPPED / "model.int8.tflite"
    monkeypatch.setattr(backends, "_tflite_interpreter", lambda: None)
    with pytest.raises(MissingExtra) as missing:
        backends.LiteRTBackend(shipped)
    assert str(missing.value) == f"{shipped}: running .tflite models needs LiteRT: pip install 'fmnist[tflite]'"
    assert missing.value.extra == "tflite"
    monkeypatch.setattr(formats, "installed", lambda family: family != "onnx")
    assert formats.not_installed(folders.SHIPPED / "model.onnx") == (
        "onnxruntime is not installed (pip install 'fmnist[onnx]')"
    )
    assert formats.not_installed(shipped) is None


def test_probabilities_hold_for_logits_far_apart_and_top_k_gives_three_by_default():
    from fmnist.runtime.classifier import softmax

    logits = np.array([[1000, 0, -1000, 0, 0, 0, 0, 0, 0, 0], [0, 1, 0, 0, 0, 0, 0, 0, 0, 0]], np.float32)
    proba = softmax(logits)
    assert proba[0].tolist() == [1] + [0] * 9 and proba[1].argmax() == 1 and proba[1].sum() == pytest.approx(1)
    classes, probs = Classifier.load().top_k(np.zeros((2, 28, 28), np.uint8))
    assert classes.shape == probs.shape == (2, 3)


@needs_data
def test_the_answer_per_image_is_the_best_class_its_confidence_and_the_k_best(real_data):
    classifier = Classifier.load("tflite-int8")
    proba = classifier.predict_proba(real_data.x_test[:2000])
    unsure = int(np.flatnonzero(proba.max(1) < LOW)[0])  # an image the model is unsure of
    chosen = [0, 1, unsure]
    for k in (1, 3, 10):
        for answer, p in zip(classifier.answers(real_data.x_test[chosen], k), proba[chosen], strict=True):
            order = np.argsort(-p, kind="stable")[:k]
            ranked = [{"class": CLASS_NAMES[c], "label": int(c), "probability": round(float(p[c]), 6)} for c in order]
            assert answer == {**ranked[0], "low_confidence": bool(p.max() < LOW), "top_k": ranked}
    assert [a["low_confidence"] for a in classifier.answers(real_data.x_test[chosen])] == [False, False, True]
    assert classifier.answers(real_data.x_test[:0]) == []


def test_a_classifier_on_other_threads_keeps_its_model_and_records(real_data):
    one = Classifier.load("onnx", threads=1)
    two = one.with_threads(2)
    assert two.backend is not one.backend and two.backend.session.get_session_options().intra_op_num_threads == 2
    assert one.backend.session.get_session_options().intra_op_num_threads == 1
    assert (two.path, two.entry, two.manifest, two.class_names, two.format) == (
        one.path, one.entry, one.manifest, one.class_names, one.format,
    )  # fmt: skip
    np.testing.assert_array_equal(two.logits(real_data.x_test[:64]), one.logits(real_data.x_test[:64]))


def test_a_file_without_a_manifest_is_described_by_its_own_metadata(tmp_path):
    shutil.copy(folders.SHIPPED / "model.int8.tflite", tmp_path)
    classifier = Classifier.load(tmp_path / "model.int8.tflite")
    assert classifier.manifest is None and classifier.entry is None
    assert classifier.precision == "int8" and classifier.class_names == CLASS_NAMES
    assert classifier.backend.metadata["source_sha256"] == Classifier.load("tflite-int8").manifest.source["sha256"]
    assert (
        repr(classifier)
        == f"Classifier({str(tmp_path / 'model.int8.tflite')!r}, runtime='ai-edge-litert', precision='int8')"
    )


def test_the_bare_runtime_call_is_the_runtimes_own_answer(real_data):
    from fmnist.runtime.backends import open_backend

    pixels = np.ascontiguousarray(real_data.x_test[:1, ..., None])
    onnx = open_backend(folders.SHIPPED / "model.onnx")
    np.testing.assert_array_equal(onnx.bare()(pixels), onnx(pixels))
    int8 = open_backend(folders.SHIPPED / "model.int8.tflite")
    raw = int8.bare()(pixels)
    scale, zero = int8.output_quantisation
    assert raw.dtype == np.int8 and np.allclose((raw.astype(np.float32) - zero) * scale, int8(pixels))


def test_an_answer_of_exactly_one_half_is_not_a_guess(monkeypatch):
    classifier = Classifier.load("tflite-int8")
    ranked = np.array([[6, 0, 2]]), np.array([[0.5, 0.3, 0.2]])
    monkeypatch.setattr(classifier, "top_k", lambda pixels, k: ranked)
    assert classifier.answers(np.zeros((1, 28, 28), np.uint8))[0]["low_confidence"] is False
    ranked = np.array([[6, 0, 2]]), np.array([[0.499999, 0.3, 0.2]])
    assert classifier.answers(np.zeros((1, 28, 28), np.uint8))[0]["low_confidence"] is True


def test_a_file_the_manifest_beside_it_does_not_list_has_no_manifest(tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(folders.SHIPPED, copy)
    shutil.copy(copy / "model.onnx", copy / "other.onnx")  # not listed: the manifest describes other files
    classifier = Classifier.load(copy / "other.onnx")
    assert classifier.entry is None and classifier.manifest is None
    assert classifier.precision == "float32" and classifier.format.name == "onnx"  # from the file's own metadata


def test_a_file_whose_metadata_declares_no_precision_is_of_unknown_precision_and_format(tmp_path):
    def no_precision(model):
        meta = json.loads(model.metadata_props[0].value)
        del meta["precision"]
        model.metadata_props[0].value = json.dumps(meta)

    classifier = Classifier.load(_rewrite_onnx(tmp_path, no_precision))
    assert classifier.precision == "unknown" and classifier.format is None
    assert classifier.class_names == CLASS_NAMES


def test_a_contract_error_names_the_file(tmp_path):
    path = _rewrite_onnx(tmp_path, lambda m: m.metadata_props.__delitem__(slice(None)), "bare.onnx")
    with pytest.raises(ContractError) as caught:
        Classifier(path)
    assert str(caught.value).startswith(f"{path}: no class names in its metadata")


def test_no_images_give_no_logits_of_the_models_type():
    logits = Classifier.load().logits(np.zeros((0, 28, 28), np.uint8))
    assert logits.shape == (0, 10) and logits.dtype == np.float32


def test_an_answer_gives_the_three_best_unless_asked_otherwise():
    (answer,) = Classifier.load().answers(np.zeros((28, 28), np.uint8))
    assert len(answer["top_k"]) == 3


def test_pixels_refused_are_named_by_their_type_or_shape_and_a_batch_in_model_form_is_not_copied():
    from fmnist.runtime.classifier import as_pixels

    with pytest.raises(FmnistError) as caught:
        as_pixels(np.zeros((2, 28, 28, 1), np.float32))
    assert str(caught.value) == (
        "pixels must be uint8 0..255 (garment bright on black), not float32; read photos with fmnist.runtime.load_image"
    )
    with pytest.raises(FmnistError) as caught:
        as_pixels(np.zeros((2, 32, 32), np.uint8))
    assert str(caught.value) == "pixels must be [N, 28, 28, 1], [N, 28, 28] or [28, 28], not [2, 32, 32]"
    batch = np.zeros((2, 28, 28, 1), np.uint8)
    assert as_pixels(batch) is batch
