"""Where models run: the GPU when there is one, else the CPU."""

import contextlib
from collections.abc import Iterator

import torch


def pick_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


@contextlib.contextmanager
def autocast(device: torch.device) -> Iterator[None]:
    """bf16 autocast on CUDA; full fp32 on the CPU, where bf16 matmuls are slower, not faster."""
    if device.type == "cuda":
        with torch.autocast("cuda", dtype=torch.bfloat16):
            yield
    else:
        yield


def describe(device: torch.device) -> dict[str, object]:
    """The hardware a run used, for its provenance."""
    if device.type == "cuda":
        return {
            "type": "cuda",
            "name": torch.cuda.get_device_name(device),
            "count": torch.cuda.device_count(),
        }
    return {"type": "cpu", "torch_threads": torch.get_num_threads()}
