"""`fmnist serve`: an inference service over HTTP (Starlette on uvicorn), the runtime only.

    from fmnist.runtime import Classifier
    from fmnist.serve import create_app
    app = create_app(Classifier.load())          # an ASGI app: run it with any ASGI server

`app` holds the routes and their limits, `inference_protocol` the Open Inference Protocol's
routes (what Triton's and KServe's clients call); page.html is the web page it serves at `/`.
"""

from fmnist.serve.app import create_app

__all__ = ["create_app"]
