"""`fmnist serve` speaks the Open Inference Protocol: its REST routes answered in-process, and Triton's own
client (`tritonclient[http]`) against a real server, JSON and binary, on real test images."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("starlette")
from starlette.testclient import TestClient
from test_serve import serve  # noqa: F401 -- the fixture that starts real servers

from fmnist.files import sha256_file
from fmnist.runtime import Classifier
from fmnist.serve import create_app

INFER = "/v2/models/fmnist/infer"


@pytest.fixture(scope="module")
def classifier():
    return Classifier.load()


@pytest.fixture
def client(classifier):
    return TestClient(create_app(classifier, max_bytes=512 * 1024, max_batch=64))


def tensor(pixels, **extra):
    return {"name": "pixels", "datatype": "UINT8", "shape": list(pixels.shape), **extra}


def test_health_server_and_model_metadata(client, classifier):
    version = sha256_file(classifier.path)
    assert client.get("/v2/health/live").json() == {"live": True}
    assert client.get("/v2/health/ready").json() == {"ready": True}
    server = client.get("/v2").json()
    assert server["name"] == "fmnist" and "binary_tensor_data" in server["extensions"]
    for path in ("/v2/models/fmnist", f"/v2/models/fmnist/versions/{version}"):
        metadata = client.get(path).json()
        assert metadata["name"] == "fmnist" and metadata["versions"] == [version]
        assert metadata["platform"] == "tensorflowlite"  # the shipped int8 TFLite model
        assert metadata["inputs"] == [{"name": "pixels", "datatype": "UINT8", "shape": [-1, 28, 28, 1]}]
        assert [o["name"] for o in metadata["outputs"]] == ["logits", "probabilities"]
        assert all(o["datatype"] == "FP32" and o["shape"] == [-1, 10] for o in metadata["outputs"])
        assert client.get(f"{path}/ready").json() == {"name": "fmnist", "ready": True}
    assert client.get("/v2/models/other").status_code == 404
    unknown = client.get("/v2/models/fmnist/versions/1/ready")
    assert unknown.status_code == 404 and unknown.json()["error"].startswith("unknown version '1' of fmnist")


def test_json_tensors_flat_or_nested_give_the_classifiers_logits(client, classifier, real_data):
    pixels = real_data.x_test[:5, ..., None]
    expected = classifier.logits(pixels)
    for data in (pixels.reshape(-1).tolist(), pixels.tolist()):
        request = {
            "id": "r1",
            "inputs": [tensor(pixels, data=data)],
            "outputs": [{"name": "logits"}, {"name": "probabilities"}],
        }
        answer = client.post(INFER, json=request)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["id"] == "r1" and body["model_name"] == "fmnist"
        logits, probabilities = body["outputs"]
        assert logits["name"] == "logits" and logits["shape"] == [5, 10] and logits["datatype"] == "FP32"
        assert np.array_equal(np.float32(logits["data"]).reshape(5, 10), expected)
        assert np.allclose(
            np.float32(probabilities["data"]).reshape(5, 10), classifier.predict_proba(pixels), atol=1e-6
        )
    only_logits = client.post(INFER, json={"inputs": [tensor(pixels, data=pixels.reshape(-1).tolist())]}).json()
    assert [o["name"] for o in only_logits["outputs"]] == ["logits"] and "id" not in only_logits


def test_binary_tensors_in_and_out(client, classifier, real_data):
    pixels = real_data.x_test[:32, ..., None]
    header = json.dumps(
        {
            "inputs": [tensor(pixels, parameters={"binary_data_size": pixels.size})],
            "outputs": [{"name": "logits", "parameters": {"binary_data": True}}],
        }
    ).encode()
    answer = client.post(
        INFER, content=header + pixels.tobytes(), headers={"Inference-Header-Content-Length": str(len(header))}
    )
    assert answer.status_code == 200, answer.text
    length = int(answer.headers["inference-header-content-length"])
    described = json.loads(answer.content[:length])
    (output,) = described["outputs"]
    assert output["parameters"]["binary_data_size"] == 32 * 10 * 4
    logits = np.frombuffer(answer.content[length:], dtype="<f4").reshape(32, 10)
    assert np.array_equal(logits, classifier.logits(pixels))


def _binary(pixels, size=None, header_length=None, **request):
    header = json.dumps(
        {"inputs": [tensor(pixels, parameters={"binary_data_size": pixels.size if size is None else size})], **request}
    ).encode()
    length = str(len(header)) if header_length is None else header_length
    return {"content": header + pixels.tobytes(), "headers": {"Inference-Header-Content-Length": length}}


ONE = np.zeros((1, 28, 28, 1), np.uint8)
ZEROS = [0] * 784


def _json(pixels=ONE, outputs=None, **fields):
    """An infer request of one JSON tensor, with `fields` set on it."""
    return {"json": {"inputs": [tensor(pixels, **fields)], **({"outputs": outputs} if outputs else {})}}


TAKES = "this model takes [N, 28, 28, 1] with N ≥ 1"
BAD = [
    (_json(datatype="FP32", data=ZEROS), "input pixels: datatype 'FP32'; this model takes UINT8"),
    (_json(shape=[1, 784], data=ZEROS), f"input pixels: shape [1, 784]; {TAKES}"),
    (_json(shape=[0, 28, 28, 1], data=[]), f"input pixels: shape [0, 28, 28, 1]; {TAKES}"),
    (_json(data=ZEROS[1:]), "input pixels: 783 values in data; its shape needs 784"),
    (_json(data=[256] * 784), "input pixels: UINT8 values must be 0..255"),
    (_json(data=[0.5] * 784), "input pixels: data must hold whole numbers 0..255"),
    (_json(name="x", data=ZEROS), "inputs ['x']: this model has one input, 'pixels'"),
    (_json(data=ZEROS, outputs=[{"name": "scores"}]), "unknown output 'scores'; this model has logits, probabilities"),
    (_json(np.zeros((65, 28, 28, 1), np.uint8)), "a batch of 65 images is over the 64-image limit"),
    (_json(), "input pixels: no data, and no binary_data_size parameter"),
    (_binary(ONE, size=700), "input pixels: binary_data_size 700 with 784 bytes of binary data; its shape needs 784"),
    (_binary(ONE, header_length="99999"), "Inference-Header-Content-Length '99999' is not a length within the body"),
    ({"content": b"{not json", "headers": {"Content-Type": "application/json"}}, "the inference request is not JSON"),
    ({"json": {"inputs": {"pixels": ZEROS}}}, "the inference request must be a JSON object with a list of inputs"),
    (_json(data=ZEROS, parameters=5), "input pixels: parameters must be a JSON object"),
    ({"json": {"inputs": [tensor(ONE, data=ZEROS)], "parameters": [1]}}, "the inference request: parameters must"),
    (_json(data=ZEROS, outputs=[{"name": "logits", "parameters": "x"}]), "output logits: parameters must be a JSON"),
    ({"content": b"[" * 100_000}, "the inference request is not JSON"),
]


@pytest.mark.parametrize("request_kwargs, error", BAD)
def test_a_bad_request_is_a_400_with_the_reason_and_the_service_goes_on(client, classifier, request_kwargs, error):
    answer = client.post(INFER, **request_kwargs)
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"].startswith(error)
    good = client.post(INFER, json={"inputs": [tensor(ONE, data=[0] * 784)]})
    assert good.status_code == 200 and good.json()["outputs"][0]["data"] == classifier.logits(ONE).reshape(-1).tolist()


def test_an_unknown_model_or_version_is_a_404_and_a_body_over_the_limit_a_413(client):
    assert client.post("/v2/models/resnet/infer", json={}).status_code == 404
    assert client.post("/v2/models/fmnist/versions/7/infer", json={}).status_code == 404
    big = client.post(INFER, content=b"x" * (512 * 1024 + 1))
    assert big.status_code == 413 and big.json() == {"error": "the body is over the 524,288-byte limit"}


def test_the_api_key_guards_inference_but_not_health(classifier):
    guarded = TestClient(create_app(classifier, api_key="s3cret"))
    request = {"inputs": [tensor(ONE, data=[0] * 784)]}
    assert guarded.post(INFER, json=request).status_code == 401
    assert guarded.post(INFER, json=request, headers={"Authorization": "Bearer s3cret"}).status_code == 200
    assert guarded.get("/v2/health/ready").status_code == 200


def test_tritonclient_talks_to_a_real_server(serve, classifier, real_data):  # noqa: F811 -- the imported fixture
    import tritonclient.http as triton
    from tritonclient.utils import InferenceServerException

    url, _ = serve("--max-batch", "128")
    client = triton.InferenceServerClient(url.removeprefix("http://"))
    assert client.is_server_live() and client.is_server_ready() and client.is_model_ready("fmnist")
    metadata = client.get_model_metadata("fmnist")
    assert metadata["inputs"][0] == {"name": "pixels", "datatype": "UINT8", "shape": [-1, 28, 28, 1]}
    assert client.get_server_metadata()["name"] == "fmnist"

    pixels = real_data.x_test[:100, ..., None]
    for binary in (True, False):
        given = triton.InferInput("pixels", list(pixels.shape), "UINT8")
        given.set_data_from_numpy(pixels, binary_data=binary)
        outputs = [triton.InferRequestedOutput(n, binary_data=binary) for n in ("logits", "probabilities")]
        result = client.infer("fmnist", [given], outputs=outputs, request_id="abc")
        assert np.array_equal(result.as_numpy("logits"), classifier.logits(pixels))
        assert np.allclose(result.as_numpy("probabilities"), classifier.predict_proba(pixels), atol=1e-6)
        assert result.get_response()["id"] == "abc"
    default = client.infer("fmnist", [given], model_version=metadata["versions"][0])  # no outputs named: binary logits
    assert np.array_equal(default.as_numpy("logits"), classifier.logits(pixels))

    floats = triton.InferInput("pixels", [1, 28, 28, 1], "FP32")
    floats.set_data_from_numpy(np.zeros((1, 28, 28, 1), np.float32))
    with pytest.raises(InferenceServerException) as refused:
        client.infer("fmnist", [floats])
    assert refused.value.status() == "400" and "this model takes UINT8" in refused.value.message()
    too_many = triton.InferInput("pixels", [129, 28, 28, 1], "UINT8")
    too_many.set_data_from_numpy(np.zeros((129, 28, 28, 1), np.uint8))
    with pytest.raises(InferenceServerException, match="over the 128-image limit"):
        client.infer("fmnist", [too_many])
    with pytest.raises(InferenceServerException, match="unknown model 'other'"):
        client.get_model_metadata("other")
    assert client.is_server_live()  # still serving after each refusal


def test_inference_is_counted_in_the_metrics(client, real_data):
    pixels = real_data.x_test[:7, ..., None]
    assert client.post(INFER, json={"inputs": [tensor(pixels, data=pixels.tolist())]}).status_code == 200
    assert client.post(INFER, json={"inputs": []}).status_code == 400
    text = client.get("/metrics").text
    assert 'fmnist_requests_total{path="/v2/models/fmnist/infer",status="200"} 1.0' in text
    assert 'fmnist_requests_total{path="/v2/models/fmnist/infer",status="400"} 1.0' in text
    assert "fmnist_images_total 7.0" in text and "fmnist_infer_seconds_count 1.0" in text
