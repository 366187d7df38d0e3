"""Make the PyTorch models of tests/models/ (run with PyTorch installed: pip install torch onnx onnxscript).

Each is trained for one epoch on the first 12,000 training images, as PyTorch users train
(float pixels / 255, NCHW, normalised with a mean and a standard deviation or not), and written
by `torch.onnx.export` as they write it: `cnn_logsoftmax.onnx` by the TorchScript exporter with
a dynamic batch axis, `mlp_fixed_batch.onnx` by the same exporter without one (batch 1), and
`cnn_dynamo.onnx` by the dynamo exporter with a dynamic batch, and `quickstart.onnx`, PyTorch's
quickstart network (narrower), by `torch.onnx.export`'s defaults: the dynamo exporter for one
image, which flattens with a Reshape to [1, 784].

    python tests/models/make_torch.py
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from fmnist import data

HERE = Path(__file__).parent
MEAN, STD = 0.2860, 0.3530


def cnn() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 8, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(16 * 6 * 6, 10),
    )  # fmt: skip


def mlp() -> nn.Module:
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 64), nn.ReLU(), nn.Linear(64, 10))


class Quickstart(nn.Module):
    """PyTorch's quickstart network, as its tutorial writes it but 32 units wide (for the file's size)."""

    def __init__(self) -> None:
        super().__init__()
        self.flatten = nn.Flatten()
        self.linear_relu_stack = nn.Sequential(nn.Linear(28 * 28, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(),
                                               nn.Linear(32, 10))  # fmt: skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear_relu_stack(self.flatten(x))


def train(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> nn.Module:
    torch.manual_seed(0)
    optimiser = torch.optim.Adam(model.parameters(), 1e-3)
    for i in range(0, len(x), 64):
        optimiser.zero_grad()
        nn.functional.cross_entropy(model(x[i : i + 64]), y[i : i + 64]).backward()
        optimiser.step()
    return model.eval()


def main() -> None:
    torch.manual_seed(0)
    dataset = data.load()
    x = torch.from_numpy(dataset.x_train[:12000, None].astype(np.float32) / 255)
    y = torch.from_numpy(dataset.y_train[:12000].astype(np.int64))
    one = x[:1]

    standardised = train(cnn(), (x - MEAN) / STD, y)
    with_log_softmax = nn.Sequential(*standardised, nn.LogSoftmax(dim=1))
    torch.onnx.export(
        with_log_softmax, (one,), HERE / "cnn_logsoftmax.onnx", input_names=["input"], output_names=["output"],
        dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}}, dynamo=False,
    )  # fmt: skip
    torch.onnx.export(mlp_model := train(mlp(), x, y), (one,), HERE / "mlp_fixed_batch.onnx", dynamo=False)
    del mlp_model
    batch = torch.export.Dim("batch", min=1, max=4096)
    torch.onnx.export(
        standardised, (one,), HERE / "cnn_dynamo.onnx", dynamic_shapes=({0: batch},), dynamo=True, external_data=False
    )
    torch.onnx.export(train(Quickstart(), x, y), (one,), HERE / "quickstart.onnx")


if __name__ == "__main__":
    main()
