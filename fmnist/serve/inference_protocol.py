"""The Open Inference Protocol (KServe's V2 inference protocol) over REST, beside `/predict`.

What Triton Inference Server, KServe, Seldon MLServer and OpenVINO Model Server speak, so their
clients (`tritonclient[http]`, KServe's `InferenceRESTClient`) call fmnist with no fmnist code:

    GET  /v2/health/live, /v2/health/ready, /v2 (server metadata)
    GET  /v2/models/fmnist[/versions/V], .../ready (model metadata; V is the model file's sha256)
    POST /v2/models/fmnist[/versions/V]/infer

An infer request carries the `pixels` tensor (UINT8 ``[N, 28, 28, 1]``) as JSON data, flat or
nested, or as binary tensor data after a JSON header of `Inference-Header-Content-Length` bytes
(what tritonclient sends by default); it is answered with `logits` (and `probabilities` when
asked for by name) as JSON or binary, as requested, the whole batch in one runtime call. A bad
request is a 400 (an unknown model or version a 404) with ``{"error": ...}``, as the protocol says.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from fmnist import __version__, contract
from fmnist.files import sha256_file
from fmnist.runtime.classifier import Classifier, softmax
from fmnist.serve.bodies import Refused, read_body
from fmnist.serve.metrics import Metrics

MODEL = "fmnist"
HEADER = "inference-header-content-length"
OUTPUTS = (contract.OUTPUT_NAME, "probabilities")
IMAGE = contract.SIDE * contract.SIDE  # values per image
PLATFORMS = {"onnxruntime": "onnxruntime_onnx", "ai-edge-litert": "tensorflowlite", "tflite-runtime": "tensorflowlite"}
MAX_BATCH = 256


def _shape(value: object) -> list[int]:
    """A request tensor's shape, which must be [N, 28, 28, 1]."""
    wanted = f"[N, {contract.SIDE}, {contract.SIDE}, 1]"
    if not (isinstance(value, list) and all(isinstance(d, int) and not isinstance(d, bool) for d in value)):
        raise Refused(400, f"input {contract.INPUT_NAME}: shape must be a list of whole numbers, {wanted}")
    if len(value) != 4 or tuple(value[1:]) != contract.INPUT_SHAPE or value[0] < 1:
        raise Refused(400, f"input {contract.INPUT_NAME}: shape {value}; this model takes {wanted} with N ≥ 1")
    return value


def _parameters(holder: dict, where: str) -> dict:
    """The `parameters` object of a request, a tensor or an output ({} when there is none)."""
    given = holder.get("parameters")
    if given is None:
        return {}
    if not isinstance(given, dict):
        raise Refused(400, f"{where}: parameters must be a JSON object")
    return given


def _json_pixels(data: object, count: int) -> np.ndarray:
    """The `data` of a JSON tensor (flat or nested, row-major) as `count` uint8 values."""
    try:
        values = np.asarray(data)
    except ValueError:  # ragged nesting
        values = np.asarray([], dtype=np.int64)
    if values.dtype.kind not in "iu" and values.size:
        raise Refused(400, f"input {contract.INPUT_NAME}: data must hold whole numbers 0..255")
    if values.size != count:
        raise Refused(400, f"input {contract.INPUT_NAME}: {values.size:,} values in data; its shape needs {count:,}")
    if values.size and (values.min() < 0 or values.max() > 255):
        raise Refused(400, f"input {contract.INPUT_NAME}: UINT8 values must be 0..255")
    return values.astype(np.uint8).reshape(-1)


class InferenceProtocol:
    """The protocol's routes around one loaded classifier."""

    def __init__(
        self,
        classifier: Classifier,
        authorised: Callable[[Request], None],
        metrics: Metrics,
        max_bytes: int,
        max_batch: int,
    ):
        self.classifier, self.authorised, self.metrics = classifier, authorised, metrics
        self.max_bytes, self.max_batch = max_bytes, max_batch
        self.version = classifier.entry.sha256 if classifier.entry else sha256_file(classifier.path)
        model = f"/v2/models/{MODEL}"
        self.paths = {"/v2/health/live", "/v2/health/ready", "/v2", model, f"{model}/ready", f"{model}/infer"}

    def routes(self) -> list[Route]:
        model = "/v2/models/{model}"
        versioned = "/v2/models/{model}/versions/{version}"
        return [
            Route("/v2/health/live", self.live, methods=["GET"]),
            Route("/v2/health/ready", self.ready, methods=["GET"]),
            Route("/v2", self.server, methods=["GET"]),
            *(Route(path, self.metadata, methods=["GET"]) for path in (model, versioned)),
            *(Route(f"{path}/ready", self.model_ready, methods=["GET"]) for path in (model, versioned)),
            *(Route(f"{path}/infer", self.infer, methods=["POST"]) for path in (model, versioned)),
        ]

    def _model(self, request: Request) -> None:
        """404 for a model or version this server does not serve."""
        name, version = request.path_params["model"], request.path_params.get("version")
        if name != MODEL:
            raise Refused(404, f"unknown model {name!r}; this server serves {MODEL!r}")
        if version is not None and version != self.version:
            raise Refused(404, f"unknown version {version!r} of {MODEL}; it has {self.version}")

    async def live(self, request: Request) -> Response:
        return JSONResponse({"live": True})

    async def ready(self, request: Request) -> Response:
        return JSONResponse({"ready": True})

    async def server(self, request: Request) -> Response:
        return JSONResponse({"name": "fmnist", "version": __version__, "extensions": ["binary_tensor_data"]})

    async def model_ready(self, request: Request) -> Response:
        self._model(request)
        return JSONResponse({"name": MODEL, "ready": True})

    async def metadata(self, request: Request) -> Response:
        self._model(request)
        outputs = [{"name": name, "datatype": "FP32", "shape": [-1, contract.NUM_CLASSES]} for name in OUTPUTS]
        return JSONResponse(
            {
                "name": MODEL,
                "versions": [self.version],
                "platform": PLATFORMS.get(self.classifier.runtime, self.classifier.runtime),
                "inputs": [{"name": contract.INPUT_NAME, "datatype": "UINT8", "shape": [-1, *contract.INPUT_SHAPE]}],
                "outputs": outputs,
                "parameters": {
                    "precision": self.classifier.precision,
                    "class_names": list(self.classifier.class_names),
                },
            }
        )

    async def infer(self, request: Request) -> Response:
        begun = time.perf_counter()
        self.authorised(request)
        self._model(request)
        body = await read_body(request, self.max_bytes)
        given = request.headers.get(HEADER)
        if given is not None and not (given.isdigit() and int(given) <= len(body)):
            raise Refused(400, f"Inference-Header-Content-Length {given!r} is not a length within the body")
        length = len(body) if given is None else int(given)
        try:
            document = json.loads(body[:length])
        except (ValueError, RecursionError) as exc:
            raise Refused(400, f"the inference request is not JSON ({str(exc)[:200]})") from None
        if not isinstance(document, dict) or not isinstance(document.get("inputs"), list):
            raise Refused(400, "the inference request must be a JSON object with a list of inputs")
        pixels = self._pixels(document["inputs"], memoryview(body)[length:])
        wanted = self._outputs(document)
        logits = await run_in_threadpool(self.classifier.logits, pixels)
        answer = self._answer(document, wanted, logits)
        self.metrics.images.inc(len(pixels))
        self.metrics.infer_latency.observe(time.perf_counter() - begun)
        return answer

    def _pixels(self, tensors: list, binary: memoryview) -> np.ndarray:
        """The batch of images in the request's one input, read from its JSON data or its binary data."""
        names = [t.get("name") if isinstance(t, dict) else None for t in tensors]
        if names != [contract.INPUT_NAME]:
            raise Refused(400, f"inputs {names}: this model has one input, {contract.INPUT_NAME!r}")
        (tensor,) = tensors
        if tensor.get("datatype") != "UINT8":
            raise Refused(
                400, f"input {contract.INPUT_NAME}: datatype {tensor.get('datatype')!r}; this model takes UINT8"
            )
        shape = _shape(tensor.get("shape"))
        if shape[0] > self.max_batch:
            raise Refused(400, f"a batch of {shape[0]:,} images is over the {self.max_batch:,}-image limit")
        count = shape[0] * IMAGE
        parameters = _parameters(tensor, f"input {contract.INPUT_NAME}")
        if "binary_data_size" in parameters:
            size = parameters["binary_data_size"]
            if size != count or len(binary) != size:
                raise Refused(
                    400, f"input {contract.INPUT_NAME}: binary_data_size {size!r} with {len(binary):,} bytes of binary "
                    f"data; its shape needs {count:,}"
                )  # fmt: skip
            values = np.frombuffer(binary, dtype=np.uint8)
        elif "data" in tensor:
            values = _json_pixels(tensor["data"], count)
        else:
            raise Refused(400, f"input {contract.INPUT_NAME}: no data, and no binary_data_size parameter")
        return values.reshape(shape[0], *contract.INPUT_SHAPE)

    def _outputs(self, document: dict) -> dict[str, bool]:
        """The outputs asked for (logits when none are named), each with whether it goes back as binary."""
        binary = _parameters(document, "the inference request").get("binary_data_output", False) is True
        asked = document.get("outputs")
        if asked is None:
            return {contract.OUTPUT_NAME: binary}
        if not isinstance(asked, list) or not all(isinstance(o, dict) for o in asked):
            raise Refused(400, "outputs must be a list of objects with a name")
        unknown = [o.get("name") for o in asked if o.get("name") not in OUTPUTS]
        if unknown:
            raise Refused(400, f"unknown output {unknown[0]!r}; this model has {', '.join(OUTPUTS)}")
        return {o["name"]: _parameters(o, f"output {o['name']}").get("binary_data", binary) is True for o in asked}

    def _answer(self, document: dict, wanted: dict[str, bool], logits: np.ndarray) -> Response:
        computed = {contract.OUTPUT_NAME: logits}
        if "probabilities" in wanted:
            computed["probabilities"] = softmax(logits)
        outputs, binaries = [], []
        for name, binary in wanted.items():
            values = np.ascontiguousarray(computed[name], dtype="<f4")
            output: dict[str, Any] = {"name": name, "datatype": "FP32", "shape": list(values.shape)}
            if binary:
                binaries.append(values.tobytes())
                output["parameters"] = {"binary_data_size": len(binaries[-1])}
            else:
                output["data"] = values.reshape(-1).tolist()
            outputs.append(output)
        answer: dict[str, Any] = {"model_name": MODEL, "model_version": self.version, "outputs": outputs}
        if "id" in document:
            answer["id"] = document["id"]
        if not binaries:
            return JSONResponse(answer)
        header = json.dumps(answer, separators=(",", ":")).encode()
        return Response(
            b"".join([header, *binaries]),
            media_type="application/octet-stream",
            headers={"Inference-Header-Content-Length": str(len(header))},
        )
