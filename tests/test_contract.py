"""The model contract's checks, with the sentences a refused model gets."""

from __future__ import annotations

import pytest

from fmnist import contract
from fmnist.errors import ContractError


def test_the_metadata_carries_the_contract_the_names_and_the_source():
    assert contract.metadata("ab" * 32, "int8") == {
        "contract": 1,
        "class_names": list(contract.CLASS_NAMES),
        "input": "pixels",
        "output": "logits",
        "precision": "int8",
        "source_sha256": "ab" * 32,
    }
    assert contract.CLASS_NAMES[0] == "T-shirt/top" and contract.CLASS_NAMES[9] == "Ankle boot"
    assert contract.NUM_CLASSES == 10 and contract.INPUT_SHAPE == (28, 28, 1)


@pytest.mark.parametrize("batch", [None, -1, "N", 1, 64])
def test_a_model_of_the_contract_passes_whatever_its_batch_dimension(batch):
    contract.check_signature("m", 1, 1, "uint8", (batch, 28, 28, 1), (batch, 10))


ONE_EACH = "; an fmnist model has one of each"
WANTED = "; an fmnist model takes uint8 [N, 28, 28, 1] pixels and returns [N, 10] logits"


@pytest.mark.parametrize(
    "inputs, outputs, dtype, shape, output_shape, message",
    [
        (2, 1, "uint8", (None, 28, 28, 1), (None, 10), "m: has 2 inputs and 1 outputs" + ONE_EACH),
        (1, 0, "uint8", (None, 28, 28, 1), (None, 10), "m: has 1 inputs and 0 outputs" + ONE_EACH),
        (1, 1, "float32", (None, 28, 28, 1), (None, 10),
         "m: takes float32 [N, 28, 28, 1] and returns [N, 10]" + WANTED),
        (1, 1, "uint8", (-1, 28, 28), (-1, 10), "m: takes uint8 [N, 28, 28] and returns [N, 10]" + WANTED),
        (1, 1, "uint8", ("batch", 1, 28, 28), (0, 10), "m: takes uint8 [N, 1, 28, 28] and returns [0, 10]" + WANTED),
        (1, 1, "uint8", (None, 28, 28, 1), (None, 5), "m: takes uint8 [N, 28, 28, 1] and returns [N, 5]" + WANTED),
        (1, 1, "uint8", (None, 28, 28, 1), (None, 3, 10),
         "m: takes uint8 [N, 28, 28, 1] and returns [N, 3, 10]" + WANTED),
        (1, 1, "uint8", (None, 28, 28, 1), (10,), "m: takes uint8 [N, 28, 28, 1] and returns [10]" + WANTED),
    ],
)  # fmt: skip
def test_a_model_outside_the_contract_is_refused_with_what_it_takes(
    inputs, outputs, dtype, shape, output_shape, message
):
    with pytest.raises(ContractError) as refused:
        contract.check_signature("m", inputs, outputs, dtype, shape, output_shape)
    assert str(refused.value) == message


def test_metadata_gives_the_class_names_and_refuses_another_contract_or_none():
    names = [f"class {i}" for i in range(10)]
    assert contract.check_metadata("m", {"contract": 1, "class_names": names}) == tuple(names)
    assert contract.check_metadata("m", {"class_names": names}) == tuple(names)  # no version: the current one
    with pytest.raises(ContractError, match=r"^m: model contract 2; this fmnist reads contract 1$"):
        contract.check_metadata("m", {"contract": 2, "class_names": names})
    missing = r"^m: no class names in its metadata or in a manifest.json beside it; export it with `fmnist export`$"
    for bad in ({}, {"class_names": names[:9]}, {"class_names": [*names[:9], 9]}, {"class_names": "T-shirt"}):
        with pytest.raises(ContractError, match=missing):
            contract.check_metadata("m", bad)
