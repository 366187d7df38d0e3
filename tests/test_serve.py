"""`fmnist serve`: every answer of the HTTP API, a real uvicorn process, and the page in Chromium."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from photos import decompression_bomb, png_claiming

pytest.importorskip("starlette")
from starlette.testclient import TestClient

from fmnist.runtime import Classifier, inputs
from fmnist.serve import create_app

ROOT = Path(__file__).resolve().parents[1]
SHIRT = (ROOT / "examples" / "shirt.jpg").read_bytes()
TROUSER = (ROOT / "examples" / "trouser.webp").read_bytes()


@pytest.fixture(scope="module")
def classifier():
    return Classifier.load()


@pytest.fixture
def client(classifier):
    return TestClient(create_app(classifier, max_bytes=64 * 1024))


def test_a_raw_photo_is_classified(client):
    for kind in ("image/jpeg", "application/octet-stream"):
        answer = client.post("/predict", content=SHIRT, headers={"Content-Type": kind})
        assert answer.status_code == 200
        body = answer.json()
        assert (body["model"], body["runtime"], body["precision"]) == ("model.int8.tflite", "ai-edge-litert", "int8")
        (result,) = body["results"]
        assert (result["file"], result["class"], result["label"], len(result["top_k"])) == ("body", "Shirt", 6, 3)
        assert result["probability"] == result["top_k"][0]["probability"] and result["low_confidence"] is False
    ranked = client.post("/predict?top_k=10&pixels=1", content=SHIRT, headers={"Content-Type": "image/jpeg"}).json()
    (result,) = ranked["results"]
    assert len(result["top_k"]) == 10 and len(result["pixels"]) == 784 and max(result["pixels"]) > 100


def test_multipart_answers_each_file_in_order_and_names_the_bad_ones(client):
    files = [("file", ("shirt.jpg", SHIRT)), ("file", ("notes.txt", b"hello")), ("file", ("trouser.webp", TROUSER))]
    answer = client.post("/predict?top_k=1", files=files)
    assert answer.status_code == 200
    results = answer.json()["results"]
    assert [(r["file"], r.get("class"), r.get("error")) for r in results] == [
        ("shirt.jpg", "Shirt", None),
        ("notes.txt", None, "not an image Pillow can read"),
        ("trouser.webp", "Trouser", None),
    ]


@pytest.mark.parametrize(
    "request_kwargs, status, error",
    [
        ({"content": b"", "headers": {"Content-Type": "image/png"}}, 400, "the body is empty"),
        ({"content": SHIRT[:300], "headers": {"Content-Type": "image/jpeg"}}, 400, "cannot decode the image"),
        (
            {"content": b"x" * 100, "headers": {"Content-Type": "text/plain"}},
            415,
            "unsupported Content-Type 'text/plain'",
        ),
        (
            {"content": b"--x\r\nbroken", "headers": {"Content-Type": "multipart/form-data; boundary=y"}},
            400,
            "multipart",
        ),
        ({"files": [("other", ("a.jpg", SHIRT))]}, 400, "no part named `file`"),
        ({"content": b"x" * 70_000, "headers": {"Content-Type": "image/jpeg"}}, 413, "over the 65,536-byte limit"),
        (
            {"content": iter([b"x" * 40_000] * 2), "headers": {"Content-Type": "image/jpeg"}},
            413,
            "over the 65,536-byte",
        ),
    ],
)
def test_bad_requests_get_a_clear_json_error(client, request_kwargs, status, error):
    answer = client.post("/predict", **request_kwargs)
    assert answer.status_code == status and error in answer.json()["error"], answer.text


@pytest.mark.parametrize("top_k", ["0", "11", "x", "2.5"])
def test_a_bad_top_k_is_refused(client, top_k):
    answer = client.post(f"/predict?top_k={top_k}", content=SHIRT, headers={"Content-Type": "image/jpeg"})
    assert answer.status_code == 400 and answer.json() == {
        "error": f"top_k must be a whole number from 1 to 10, not '{top_k}'"
    }


def test_a_decompression_bomb_is_refused(client, tmp_path):
    bomb = decompression_bomb(tmp_path / "bomb.png").read_bytes()
    answer = client.post("/predict", content=bomb, headers={"Content-Type": "image/png"})
    assert answer.status_code == 400 and "decompression bomb" in answer.json()["error"]


def test_only_one_small_photo_is_answered_on_the_event_loop(tmp_path, monkeypatch):
    """Everything else (several photos, a large file, one that decodes to many pixels) goes to a worker thread."""
    from fmnist.serve import app

    photo = ROOT / "examples" / "shirt.jpg"
    large = png_claiming(tmp_path / "large.png", 2000, 1000)  # 2 MP from a few hundred bytes
    assert inputs.decoded_pixels(photo.read_bytes()) <= app.INLINE_PIXELS
    assert inputs.decoded_pixels(large.read_bytes()) == 2_000_000
    assert inputs.decoded_pixels(b"not an image") is None
    assert app._small([("body", SHIRT)])
    for uploads in ([("a", SHIRT), ("b", SHIRT)], [("body", large.read_bytes())], [("body", b"x" * 70_000)]):
        assert not app._small(uploads)


def test_wrong_method_or_path_and_the_health_and_metrics(client):
    assert client.get("/predict").status_code == 405 and client.get("/predict").json() == {
        "error": "method not allowed"
    }
    assert client.get("/nowhere").status_code == 404 and client.get("/nowhere").json() == {"error": "no such path"}
    health = client.get("/healthz").json()
    assert health["status"] == "ok" and health["model"] == "model.int8.tflite" and health["uptime_s"] >= 0
    client.post("/predict", files=[("file", ("a.jpg", SHIRT)), ("file", ("b.webp", TROUSER))])
    text = client.get("/metrics").text
    assert 'fmnist_requests_total{path="/predict",status="200"} 1.0' in text
    assert 'fmnist_requests_total{path="other",status="404"} 2.0' in text
    assert "fmnist_images_total 2.0" in text and "fmnist_predict_seconds_count 1.0" in text


def test_an_api_key_guards_predict_and_metrics(classifier):
    client = TestClient(create_app(classifier, api_key="s3cret"))
    for path, method in (("/predict", client.post), ("/metrics", client.get)):
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "s3cret"}):
            answer = method(
                path,
                headers={"Content-Type": "image/jpeg", **headers},
                **({"content": SHIRT} if path == "/predict" else {}),
            )
            assert answer.status_code == 401 and answer.headers["www-authenticate"] == "Bearer", (path, headers)
    good = {"Authorization": "Bearer s3cret", "Content-Type": "image/jpeg"}
    assert client.post("/predict", content=SHIRT, headers=good).status_code == 200
    assert client.get("/metrics", headers=good).status_code == 200
    assert client.get("/healthz").status_code == 200 and "const needsKey = true;" in client.get("/").text


def test_no_cross_origin_calls_unless_an_origin_is_named(classifier):
    preflight = {"Origin": "https://shop.example", "Access-Control-Request-Method": "POST"}
    plain = TestClient(create_app(classifier)).options("/predict", headers=preflight)
    assert "access-control-allow-origin" not in plain.headers
    named = TestClient(create_app(classifier, cors_origin="https://shop.example")).options(
        "/predict", headers=preflight
    )
    assert named.headers["access-control-allow-origin"] == "https://shop.example"


def test_the_page_needs_nothing_from_elsewhere(client):
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "const needsKey = false;" in page.text and 'capture="environment"' in page.text
    assert "http://" not in page.text and "https://" not in page.text  # no CDN: it works offline


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def serve():
    """Start real `fmnist serve` processes on free ports (extra options, extra environment); killed at the end."""
    processes = []

    def start(*options: str, env: dict[str, str] | None = None) -> tuple[str, subprocess.Popen]:
        port = free_port()
        process = subprocess.Popen(
            [sys.executable, "-m", "fmnist", "serve", "--port", str(port), *options],
            stderr=subprocess.PIPE, text=True, env={**os.environ, **(env or {})},
        )  # fmt: skip
        processes.append(process)
        url = f"http://127.0.0.1:{port}"
        for _ in range(200):
            try:
                urllib.request.urlopen(f"{url}/healthz", timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        return url, process

    yield start
    for process in processes:
        if process.poll() is None:
            process.kill()
        process.wait()
        process.stderr.close()


@pytest.fixture
def server(serve):
    """A real `fmnist serve` process with the default options."""
    return serve()


def address(url: str) -> tuple[str, int]:
    parts = urllib.parse.urlsplit(url)
    return parts.hostname, parts.port


def call(url: str, path: str, data: bytes | None = None, headers: dict[str, str] | None = None) -> int:
    """The status of one request (an error status too)."""
    request = urllib.request.Request(url + path, data=data, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status
    except urllib.error.HTTPError as error:
        error.close()
        return error.code


def exchange(url: str, request: bytes, timeout: float = 10) -> tuple[int | None, bytes]:
    """Send `request` in one go, read until the server closes: (status or None, body)."""
    answer = b""
    with socket.create_connection(address(url), timeout=timeout) as s:
        try:
            s.sendall(request)
            while chunk := s.recv(65536):
                answer += chunk
        except OSError:  # reset, broken pipe or timed out: keep what came
            pass
    return parse(answer)


def parse(answer: bytes) -> tuple[int | None, bytes]:
    head, _, body = answer.partition(b"\r\n\r\n")
    return (int(head.split()[1]) if head.startswith(b"HTTP/1.1 ") else None), body


HEALTH = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"  # the headers still to end


def post_head(length: str, *extra: str) -> bytes:
    lines = ["POST /predict HTTP/1.1", "Host: 127.0.0.1", "Content-Type: image/jpeg", length, *extra]
    return ("\r\n".join([*lines, "Connection: close"]) + "\r\n\r\n").encode()


def test_a_real_server_answers_and_stops_cleanly_on_sigterm(server):
    url, process = server
    request = urllib.request.Request(f"{url}/predict", data=SHIRT, headers={"Content-Type": "image/jpeg"})
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert answer.status == 200 and json.loads(answer.read())["results"][0]["class"] == "Shirt"
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=20) == 0
    lines = process.stderr.read().strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(
        "serving model.int8.tflite (ai-edge-litert, int8) on http://127.0.0.1:"
    )


def test_several_worker_processes_share_the_port_with_the_options_given_and_stop_on_sigterm(serve):
    url, process = serve("--workers", "2", "--api-key", "s3cret", "--max-bytes", "16384")
    headers = {"Content-Type": "image/jpeg", "Authorization": "Bearer s3cret"}
    for _ in range(20):
        with urllib.request.urlopen(urllib.request.Request(f"{url}/predict", SHIRT, headers), timeout=10) as answer:
            assert json.loads(answer.read())["results"][0]["class"] == "Shirt"
        assert call(url, "/predict", SHIRT, {"Content-Type": "image/jpeg"}) == 401  # each worker keeps the key
        assert call(url, "/predict", b"x" * 20000, headers) == 413  # and the body limit
    children = Path(f"/proc/{process.pid}/task/{process.pid}/children").read_text().split()
    commands = [Path(f"/proc/{pid}/cmdline").read_bytes() for pid in children]
    assert sum(b"spawn_main" in c and b"resource_tracker" not in c for c in commands) == 2, commands
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 0
    first = process.stderr.read().strip().splitlines()[0]
    assert first.endswith("(an API key is required, 2 processes; Ctrl-C or SIGTERM stops it)")


def test_the_api_key_can_come_from_the_environment(serve):
    url, _ = serve(env={"FMNIST_API_KEY": "s3cret"})
    for path, data in (("/predict", SHIRT), ("/metrics", None)):
        headers = {"Content-Type": "image/jpeg"}
        assert call(url, path, data, headers) == 401, path
        assert call(url, path, data, {**headers, "Authorization": "Bearer s3cret"}) == 200, path
    assert call(url, "/healthz") == 200


def test_max_bytes_refuses_a_longer_body_with_or_without_a_length(serve):
    url, _ = serve("--max-bytes", "10000")
    chunked = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in [b"x" * 6000] * 2) + b"0\r\n\r\n"
    for request in (
        post_head("Content-Length: 10001") + b"x" * 10001,
        post_head("Transfer-Encoding: chunked") + chunked,
    ):
        status, body = exchange(url, request)
        assert status == 413 and json.loads(body) == {"error": "the body is over the 10,000-byte limit"}
    status, body = exchange(url, post_head(f"Content-Length: {len(SHIRT)}") + SHIRT)  # 8,743 bytes
    assert status == 200 and json.loads(body)["results"][0]["class"] == "Shirt"


def test_headers_over_16_kb_are_refused(server):
    url, _ = server

    def get(kb: int, end: bytes = b"\r\n") -> int | None:
        padding = b"".join(b"X-Pad-%d: %s\r\n" % (i, b"a" * 1000) for i in range(kb))
        return exchange(url, HEALTH + padding + end, timeout=5)[0]

    assert get(8) == 200
    assert get(20) in (400, 431)
    assert get(20, end=b"") == 400  # refused as soon as 16 KB are buffered, not kept waiting for the end


def test_past_256_connections_a_request_gets_503(server):
    url, _ = server
    held = [socket.create_connection(address(url), timeout=10) for _ in range(256)]
    try:
        assert exchange(url, HEALTH + b"\r\n")[0] == 503
    finally:
        for s in held:
            s.close()
    for _ in range(100):  # the server sees the closes in its own time
        if call(url, "/healthz") == 200:
            break
        time.sleep(0.05)
    assert call(url, "/healthz") == 200


def test_sigterm_lets_the_request_in_flight_finish(server):
    url, process = server
    with socket.create_connection(address(url), timeout=10) as s, s.makefile("rb") as answer:
        s.sendall(post_head(f"Content-Length: {len(SHIRT)}", "Expect: 100-continue") + SHIRT[:4000])
        assert answer.readline().startswith(b"HTTP/1.1 100 ") and answer.readline() == b"\r\n"  # the app reads it
        process.send_signal(signal.SIGTERM)
        for _ in range(100):  # new connections are refused once it stops listening
            try:
                socket.create_connection(address(url), timeout=1).close()
            except ConnectionRefusedError:
                break
            time.sleep(0.05)
        else:
            pytest.fail("still accepting connections after SIGTERM")
        time.sleep(1)  # a slow client: the rest of the photo comes a second into the shutdown
        s.sendall(SHIRT[4000:])
        status, body = parse(answer.read())
    assert status == 200 and json.loads(body)["results"][0]["class"] == "Shirt"
    assert process.wait(timeout=20) == 0
    lines = process.stderr.read().strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("serving model.int8.tflite"), lines


CHROMIUM = shutil.which("chromium")


@pytest.mark.skipif(CHROMIUM is None and os.geteuid() != 0, reason="Debian's chromium is not installed")
def test_the_page_in_a_real_browser(server, tmp_path):
    """Upload a photo through the page in Chromium: the class and ten bars appear."""
    from playwright.sync_api import sync_playwright

    assert CHROMIUM, "scripts/setup.sh installs Debian's chromium when run as root"
    url, _ = server
    photo = tmp_path / "shirt.jpg"
    photo.write_bytes(SHIRT)
    flags = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
             "--no-first-run", "--disable-sync", "--disable-quic"]  # fmt: skip
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=flags)
        page = browser.new_page()
        page.goto(url)
        page.set_input_files("#pick", str(photo))
        page.wait_for_selector("#result:not([hidden])", timeout=15_000)
        answer = page.text_content("#answer")
        bars = page.locator(".bar").count()
        model = page.text_content("#model")
        page.screenshot(path=str(tmp_path / "page.png"))
        browser.close()
    assert answer.startswith("Shirt: ") and bars == 10 and model == "model.int8.tflite (ai-edge-litert, int8)"


def test_the_service_never_imports_tensorflow():
    code = (
        "import sys\nfrom fmnist.runtime import Classifier\nfrom fmnist.serve import create_app\n"
        "create_app(Classifier.load())\n"
        "print(sorted(m for m in ('tensorflow', 'keras', 'tf2onnx') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
