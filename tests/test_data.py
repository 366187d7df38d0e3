"""IDX parsing, dataset search, checksum verification and the download path."""

from __future__ import annotations

import functools
import gzip
import hashlib
import http.client
import http.server
import io
import shutil
import threading
import urllib.error
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest
from conftest import REAL_DATA, needs_data, run_fmnist

from fmnist import data
from fmnist.errors import DataError


def idx_bytes(array: np.ndarray, magic: int | None = None) -> bytes:
    magic = magic if magic is not None else (0x0800 | array.ndim)
    header = magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in array.shape)
    return header + array.astype(np.uint8).tobytes()


def write_idx(path: Path, array: np.ndarray, compress: bool = True, **kw) -> Path:
    raw = idx_bytes(array, **kw)
    path.write_bytes(gzip.compress(raw) if compress else raw)
    return path


@pytest.fixture
def images():
    return np.random.default_rng(0).integers(0, 256, (12, 28, 28), dtype=np.uint8)


@pytest.fixture
def labels():
    return np.arange(12, dtype=np.uint8) % 10


@pytest.mark.parametrize("compress", [True, False])
def test_reads_gzipped_and_raw_idx(tmp_path, images, labels, compress):
    x, y = data.load_pair(write_idx(tmp_path / "x", images, compress), write_idx(tmp_path / "y", labels, compress))
    assert x.dtype == np.uint8 and x.shape == (12, 28, 28)
    np.testing.assert_array_equal(x, images)
    np.testing.assert_array_equal(y, labels)


@pytest.mark.parametrize(
    "mutate, kind, message",
    [
        (lambda b: b[:6], "images", "truncated IDX header"),
        (lambda b: b[:-5], "images", "truncated"),
        (lambda b: b + b"\0", "images", "trailing bytes"),
        (lambda b: (0x0D03).to_bytes(4, "big") + b[4:], "images", "bad IDX magic"),
        (lambda b: (0x0801).to_bytes(4, "big") + b[4:], "images", "this IDX file holds labels, not images"),
        (lambda b: b[:12] + (27).to_bytes(4, "big") + b[16:], "images", "28x27, expected 28x28"),
        (lambda b: b"", "labels", "truncated IDX header"),
        (lambda b: b[:2], "images", r"^bad: truncated IDX header \(2 bytes\)$"),
        (lambda b: (0x0801).to_bytes(4, "big"), "images", r"^bad: this IDX file holds labels, not images$"),
        (lambda b: b[:15], "images", r"^bad: truncated IDX header \(15 bytes\)$"),
        (lambda b: (0x0D03).to_bytes(4, "big") + b[4:], "images", r"^bad: bad IDX magic 0x00000d03, expected "
         r"0x00000803 \(uint8 images\)$"),
        (lambda b: b + b"\0", "images", r"^bad: has trailing bytes: 9409 data bytes for dims \(12, 28, 28\), "
         r"expected 9408$"),
        (lambda b: b[:4] + (2**24 + 1).to_bytes(4, "big") + b[8:], "images", r"^bad: truncated: 9408 data bytes "
         r"for dims \(16777217, 28, 28\), expected 13153338128$"),  # every byte of a dimension counts
        (lambda b: b[:12] + (2**16 + 28).to_bytes(4, "big") + b[16:], "images", r"^bad: images are 28x65564, "
         r"expected 28x28$"),
    ],
)  # fmt: skip
def test_bad_idx_is_a_clear_error(tmp_path, images, mutate, kind, message):
    path = tmp_path / "bad"
    path.write_bytes(mutate(idx_bytes(images)))
    with pytest.raises(DataError, match=message.replace("^bad", f"^{path}")):
        data.read_idx(path, kind)


def test_an_idx_file_of_no_images_is_empty_not_truncated(tmp_path):
    path = write_idx(tmp_path / "none", np.zeros((0, 28, 28), np.uint8), compress=False)
    assert data.read_idx(path, "images").shape == (0, 28, 28)


def test_labels_outside_range(tmp_path):
    path = write_idx(tmp_path / "y", np.array([0, 3, 10], dtype=np.uint8))
    with pytest.raises(DataError, match="label 10 outside 0..9"):
        data.read_idx(path, "labels")


def test_count_mismatch(tmp_path, images, labels):
    x = write_idx(tmp_path / "x", images)
    y = write_idx(tmp_path / "y", labels[:11])
    with pytest.raises(DataError, match=f"^{x} holds 12 images but {y} holds 11 labels$"):
        data.load_pair(x, y)


def test_truncated_gzip(tmp_path, images):
    path = tmp_path / "x.gz"
    path.write_bytes(gzip.compress(idx_bytes(images))[:-20])
    with pytest.raises(DataError, match="truncated or corrupt gzip"):
        data.read_idx(path, "images")


def fake_dataset(folder: Path, images, labels) -> Path:
    """Four well-formed IDX files under the official names, with the wrong contents."""
    folder.mkdir(parents=True, exist_ok=True)
    for key, part in data.PARTS.items():
        write_idx(folder / (part.stem + ".gz"), images if key.endswith("images") else labels)
    return folder


def test_checksum_mismatch_is_reported(tmp_path, images, labels):
    folder = fake_dataset(tmp_path / "d", images, labels)
    digest = hashlib.sha256(idx_bytes(images)).hexdigest()
    with pytest.raises(DataError) as mismatch:
        data.load(folder)
    assert str(mismatch.value) == (
        f"{folder / 'train-images-idx3-ubyte.gz'}: checksum mismatch (sha256 {digest[:12]}…, expected c59f468a2f67…); "
        f"delete it and {data.INSTALL_HINT}"
    )
    (folder / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(idx_bytes(labels[:11])))
    (folder / "t10k-images-idx3-ubyte.gz").unlink()
    with pytest.raises(DataError, match=f"^{folder}: t10k-images-idx3-ubyte is missing; get it with"):
        data._load_split(folder, "test")  # a file gone since the folder was found


def test_search_order(tmp_path, monkeypatch, images, labels):
    env_dir = fake_dataset(tmp_path / "env", images, labels)
    cache = fake_dataset(tmp_path / "xdg" / "fmnist", images, labels)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setattr(data, "DEBIAN_DIR", tmp_path / "nowhere")
    explicit = fake_dataset(tmp_path / "explicit", images, labels)

    monkeypatch.setenv("FMNIST_DATA", str(env_dir))
    assert data.find(explicit) == explicit
    assert data.find() == env_dir
    monkeypatch.delenv("FMNIST_DATA")
    assert data.find() == cache
    shutil.rmtree(cache)
    with pytest.raises(DataError) as missing:
        data.find()
    assert str(missing.value) == (
        f"Fashion-MNIST not found (looked in {tmp_path / 'xdg' / 'fmnist'}, {tmp_path / 'nowhere'}); "
        "get it with `apt-get install dataset-fashion-mnist` or `fmnist data download`"
    )
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert data.cache_dir() == tmp_path / "home" / ".cache" / "fmnist"


def test_explicit_folder_must_hold_the_data(tmp_path):
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(b"")
    fill = f"run `fmnist data download --data-dir {tmp_path}` or copy the four IDX files there"
    with pytest.raises(DataError) as lacking:
        data.find(tmp_path)
    assert str(lacking.value) == (
        f"{tmp_path} lacks train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte; {fill}"
    )
    with pytest.raises(DataError, match="does not exist"):
        data.find(tmp_path / "missing")


@needs_data
def test_real_dataset(real_data):
    assert real_data.x_train.shape == (60000, 28, 28)
    assert real_data.x_test.shape == (10000, 28, 28)
    assert real_data.x_train.dtype == np.uint8
    assert np.bincount(real_data.y_train).tolist() == [6000] * 10
    assert np.bincount(real_data.y_test).tolist() == [1000] * 10
    for part in data.PARTS.values():  # decompressed bytes match the published checksums
        data.verify_part(data._part_path(real_data.source, part), part)


@needs_data
def test_load_test_reads_only_the_test_files(real_data, tmp_path, monkeypatch, images, labels):
    """Evaluation needs the test split alone: a corrupt training file does not stop it."""
    monkeypatch.setattr(data, "DEBIAN_DIR", tmp_path / "nowhere")  # only the folder named can be read
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "no-cache"))
    monkeypatch.delenv("FMNIST_DATA", raising=False)
    folder = fake_dataset(tmp_path / "mixed", images, labels)  # training files fail their checksums
    for key in ("test_images", "test_labels"):
        (folder / (data.PARTS[key].stem + ".gz")).unlink()
        shutil.copy(data._part_path(real_data.source, data.PARTS[key]), folder)
    x_test, y_test = data.load_test(folder)
    assert np.array_equal(x_test, real_data.x_test) and np.array_equal(y_test, real_data.y_test)
    with pytest.raises(DataError, match="train-images-idx3-ubyte.gz: checksum mismatch"):
        data.load(folder)


def test_cli_data_bad_folder_is_one_line(tmp_path, images, labels):
    fake_dataset(tmp_path, images, labels)
    result = run_fmnist("data", "--data-dir", str(tmp_path))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "checksum mismatch" in lines[0]
    assert "Traceback" not in result.stderr


# --- the download path, against a server on this machine ---------------------------


@pytest.fixture
def mirror(tmp_path):
    """An HTTP server on localhost serving `tmp_path/site`; yields (base_url, site)."""
    site = tmp_path / "site"
    site.mkdir()
    QuietHandler.asked = []
    handler = functools.partial(QuietHandler, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/", site
    server.shutdown()
    server.server_close()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    """Serves files without a word, keeping the paths it was asked for."""

    asked: ClassVar[list[str]] = []

    def log_message(self, *args):
        QuietHandler.asked.append(self.path)


class Recorder:
    """A stand-in for a rich Progress: the tasks added, with their totals and the bytes advanced."""

    def __init__(self):
        self.tasks = {}

    def add_task(self, name, total):
        self.tasks[name] = [total, 0]
        return name

    def advance(self, task, amount):
        self.tasks[task][1] += amount


@needs_data
def test_download_from_mirror(mirror, tmp_path):
    from rich.console import Console
    from rich.progress import Progress

    url, site = mirror
    for part in data.PARTS.values():  # the real files, recompressed as a mirror would serve them
        raw = data._read_bytes(data._part_path(REAL_DATA, part))
        (site / (part.stem + ".gz")).write_bytes(gzip.compress(raw, compresslevel=1))
    dest = tmp_path / "cache" / "fmnist"  # its parent does not exist yet
    with Progress(console=Console(quiet=True)) as progress:
        assert data.download(dest, url, progress) == dest
    assert sorted(p.name for p in dest.iterdir()) == sorted(p.stem + ".gz" for p in data.PARTS.values())
    assert data.load(dest).x_train.shape == (60000, 28, 28)
    assert QuietHandler.asked == [f"/{part.stem}.gz" for part in data.PARTS.values()]

    again = tmp_path / "again"  # one good file there already: only the other three are fetched
    again.mkdir()
    shutil.copy(site / "train-images-idx3-ubyte.gz", again)
    QuietHandler.asked.clear()
    recorder = Recorder()
    data.download(again, url.rstrip("/"), recorder)
    assert QuietHandler.asked == [f"/{part.stem}.gz" for part in list(data.PARTS.values())[1:]]
    sizes = {part.stem: (site / f"{part.stem}.gz").stat().st_size for part in list(data.PARTS.values())[1:]}
    assert recorder.tasks == {stem: [size, size] for stem, size in sizes.items()}  # each byte counted once
    result = run_fmnist("data", "download", "--data-dir", str(tmp_path / "env"), env={"FMNIST_MIRROR": url})
    assert result.returncode == 0, result.stderr  # the mirror named by the environment
    assert data.load(tmp_path / "env").x_test.shape == (10000, 28, 28)
    result = run_fmnist("data", "download", "--data-dir", str(tmp_path / "bad"), env={"FMNIST_MIRROR": "ftp://x/"})
    assert result.returncode == 2 and "mirror 'ftp://x/' is not a URL" in result.stderr


def test_download_rejects_corrupt_file_and_keeps_nothing(mirror, tmp_path, images, labels):
    url, site = mirror
    fake_dataset(site, images, labels)
    dest = tmp_path / "cache"
    with pytest.raises(DataError, match="does not match the published checksum"):
        data.download(dest, url)
    assert list(dest.iterdir()) == []


def test_download_missing_file_and_unreachable_mirror(mirror, tmp_path):
    url, _ = mirror
    with pytest.raises(DataError, match="cannot download .*404"):
        data.download(tmp_path / "a", url)
    result = run_fmnist("data", "download", "--data-dir", str(tmp_path / "b"), "--mirror", "http://127.0.0.1:9/")
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "error: cannot download http://127.0.0.1:9/train-images-idx3-ubyte.gz: [Errno 111] Connection refused; "
        "check the network, or install the Debian package dataset-fashion-mnist"
    )
    assert list((tmp_path / "b").iterdir()) == []
    for secure in ("https://127.0.0.1:9/", "file:///nowhere/"):  # URLs it takes, that lead nowhere here
        with pytest.raises(DataError, match=f"^cannot download {secure}train-images-idx3-ubyte.gz: "):
            data.download(tmp_path / "c", secure)
    (tmp_path / "file").write_text("")
    with pytest.raises(
        DataError, match=f"^cannot create the data folder {tmp_path / 'file' / 'd'} \\(Not a directory\\)$"
    ):
        data.download(tmp_path / "file" / "d", url)


@needs_data
def test_download_from_a_folder_mirror(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    for part in data.PARTS.values():
        shutil.copy(data._part_path(REAL_DATA, part), site / (part.stem + ".gz"))  # gzipped or not, as installed
    assert data.download(tmp_path / "d", f"file://{site}/") == tmp_path / "d"
    assert data.load_test(tmp_path / "d")[0].shape == (10000, 28, 28)
    ends_in_x = tmp_path / "siteX"  # a mirror's own name is kept whole, only the slash after it goes
    site.rename(ends_in_x)
    assert data.download(tmp_path / "e", f"file://{ends_in_x}/") == tmp_path / "e"


@needs_data
def test_download_into_the_cache_by_default_fetches_nothing_it_has(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    (tmp_path / "fmnist").mkdir()
    for part in data.PARTS.values():
        shutil.copy(data._part_path(REAL_DATA, part), tmp_path / "fmnist")
    monkeypatch.setattr(data.urllib.request, "urlopen", lambda *a, **k: pytest.fail("nothing to fetch"))
    assert data.download() == tmp_path / "fmnist"


class Response(io.BytesIO):
    """What urlopen gives for a body sent without a Content-Length (chunked)."""

    headers: ClassVar[dict] = {}

    def __exit__(self, *exc):
        self.close()


def test_a_download_waits_a_minute_at_most_and_counts_a_body_of_unknown_length(tmp_path, monkeypatch, images):
    asked = []
    body = gzip.compress(images.tobytes())

    def urlopen(url, **options):
        asked.append(options)
        return Response(body)

    monkeypatch.setattr(data.urllib.request, "urlopen", urlopen)
    recorder = Recorder()
    with pytest.raises(DataError, match="does not match the published checksum"):
        data._download_part("http://mirror/x.gz", tmp_path, data.PARTS["train_images"], recorder)
    assert asked == [{"timeout": 60}]
    assert recorder.tasks == {"train-images-idx3-ubyte": [None, len(body)]}  # no total: a bar without an end


@pytest.mark.parametrize(
    "error, reason",
    [
        (http.client.RemoteDisconnected("Remote end closed connection without response"),
         "Remote end closed connection without response"),
        (ConnectionRefusedError(111, "Connection refused"), "[Errno 111] Connection refused"),
        (urllib.error.HTTPError("u", 503, "Service Unavailable", {}, None), "HTTP 503 Service Unavailable"),
    ],
)  # fmt: skip
def test_a_failed_download_says_why_in_one_line(tmp_path, monkeypatch, error, reason):
    def urlopen(url, **options):
        raise error

    monkeypatch.setattr(data.urllib.request, "urlopen", urlopen)
    with pytest.raises(DataError) as failed:
        data.download(tmp_path, "http://mirror/")
    assert str(failed.value) == (
        f"cannot download http://mirror/train-images-idx3-ubyte.gz: {reason}; check the network, or install the "
        "Debian package dataset-fashion-mnist"
    )
    assert list(tmp_path.iterdir()) == []


def test_a_split_holds_out_at_least_one_of_every_class():
    y = np.repeat(np.arange(10), [3] * 9 + [40])  # 0.1 of three rounds to none: one is held out all the same
    keep, held = data.stratified_split(y, 0.1, seed=0)
    assert np.bincount(y[held]).tolist() == [1] * 9 + [4]
    assert sorted([*keep, *held]) == list(range(len(y)))


@pytest.mark.parametrize("size", [4, 5])
def test_a_subset_as_large_as_the_labels_is_all_of_them_even_when_the_classes_are_unbalanced(size):
    from fmnist.data import stratified_subset

    assert stratified_subset(np.array([0, 0, 0, 1]), size, seed=0).tolist() == [0, 1, 2, 3]


def test_an_unreadable_file_is_named_with_the_reason(tmp_path):
    with pytest.raises(DataError) as caught:
        data.read_idx(tmp_path, "images")  # a folder: reading it fails
    assert str(caught.value) == f"{tmp_path}: cannot read (Is a directory)"


def test_a_malformed_file_in_a_data_folder_is_named(tmp_path, images, labels):
    folder = fake_dataset(tmp_path / "d", images, labels)
    broken = folder / "train-images-idx3-ubyte.gz"
    broken.write_bytes(gzip.compress(idx_bytes(images)[:-1]))
    with pytest.raises(DataError, match=f"^{broken}: truncated: 9407 data bytes"):
        data.load(folder)


def test_an_incomplete_cache_is_passed_over_for_a_complete_folder(tmp_path, monkeypatch, images, labels):
    cache = fake_dataset(tmp_path / "xdg" / "fmnist", images, labels)
    (cache / "t10k-labels-idx1-ubyte.gz").unlink()
    debian = fake_dataset(tmp_path / "debian", images, labels)
    monkeypatch.delenv("FMNIST_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setattr(data, "DEBIAN_DIR", debian)
    assert data.find() == debian


def test_a_download_that_fails_its_checksum_says_so_in_one_line(mirror, tmp_path, images, labels):
    url, site = mirror
    fake_dataset(site, images, labels)
    with pytest.raises(DataError) as caught:
        data.download(tmp_path / "cache", url)
    assert str(caught.value) == (
        f"{url}train-images-idx3-ubyte.gz: downloaded file does not match the published checksum; try again, "
        "or install the Debian package dataset-fashion-mnist"
    )
