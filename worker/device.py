"""Where models run (the GPU when there is one, else the CPU), and in which precision."""

import contextlib
import os
from collections.abc import Iterator

import torch

from backend.provenance import CpuDevice, CudaDevice

HALF_PRECISION = (torch.bfloat16, torch.float16)


def pick_device(preference: str = "auto") -> torch.device:
    """The device a worker uses: Settings.device, "auto" meaning the GPU when one is visible."""
    if preference == "cpu":
        return torch.device("cpu")
    if torch.cuda.is_available():
        return torch.device("cuda")
    if preference == "cuda":
        raise RuntimeError(_no_cuda())
    return torch.device("cpu")


def _no_cuda() -> str:
    visible = os.environ.get("CUDA_VISIBLE_DEVICES", "(unset)")
    return (
        f"SEEDSCOPE_DEVICE=cuda but no CUDA device is usable "
        f"(CUDA_VISIBLE_DEVICES={visible}, torch {torch.__version__})"
    )


def check_device(preference: str) -> None:
    """At worker startup, in the main process: refuse to start when a GPU is required and none is usable.

    Asks NVML, not CUDA: a CUDA call here would initialise CUDA in the parent of the pool processes, which
    then could not use it after the fork.
    """
    os.environ["PYTORCH_NVML_BASED_CUDA_CHECK"] = "1"
    if preference == "cuda" and not torch.cuda.is_available():
        raise SystemExit(f"seedscope-worker: {_no_cuda()}")


def weights_dtype(device: torch.device, own_dtype: torch.dtype | None) -> torch.dtype:
    """bf16 on a GPU (or the model's own fp16/bf16): half the memory and several times the decode speed of
    fp32. fp32 on the CPU, where half-precision matmuls are slower, not faster."""
    if device.type != "cuda":
        return torch.float32
    return own_dtype if own_dtype in HALF_PRECISION else torch.bfloat16


@contextlib.contextmanager
def autocast(device: torch.device) -> Iterator[None]:
    """For training: bf16 matmuls on CUDA (the LoRA weights stay fp32); full fp32 on the CPU."""
    if device.type == "cuda":
        with torch.autocast("cuda", dtype=torch.bfloat16):
            yield
    else:
        yield


def describe(device: torch.device, dtype: torch.dtype) -> CpuDevice | CudaDevice:
    """The hardware and precision a run used, for its provenance."""
    precision = str(dtype).removeprefix("torch.")
    if device.type == "cuda":
        return CudaDevice(
            type="cuda",
            name=torch.cuda.get_device_name(device),
            count=torch.cuda.device_count(),
            dtype=precision,
        )
    return CpuDevice(type="cpu", torch_threads=torch.get_num_threads(), dtype=precision)
