"""KID and FID of masks with torchvision's Inception-v3 and weights the user gives as a file.

Nothing is downloaded. Weights: torchvision's ImageNet file ``inception_v3_google-0cc3c7bd.pth``
(``torchvision.models.Inception_V3_Weights.IMAGENET1K_V1``; download it once where there is
network and pass its path), or the FID network ``pt_inception-2015-12-05-6726825d.pth`` of
pytorch-fid (same layer names; its 1008-class ``fc`` is ignored, and torchvision's pooling
differs slightly from TensorFlow's FID graph, so numbers are comparable within celltool, not
with published FIDs). Features: the 2048-d global average pool. Masks enter as
3 × ``size`` × ``size`` images in [-1, 1] (background −1, cell +1, bilinear resize), the range
the network sees after torchvision's ``transform_input``.

Inception features describe photographs: for binary masks they are off-domain and mostly
measure edge statistics. Read them after the shape statistics of :mod:`celltool_metrics.masks`.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from celltool.errors import CelltoolError


def load_inception(weights: str | Path, device: str = "cpu"):
    """torchvision's inception_v3 with the given state_dict, classifier removed, eval mode."""
    import torch
    from torchvision.models import inception_v3

    path = Path(weights) if weights else None
    if path is None or not path.is_file():
        raise CelltoolError("Inception weights file not found (--inception-weights)", path or ".")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise CelltoolError(f"unreadable Inception weights ({exc})", path) from None
    state = state.get("state_dict", state) if isinstance(state, dict) else state
    net = inception_v3(weights=None, aux_logits=True, init_weights=False, transform_input=False)
    own = net.state_dict()
    skip = ("fc.", "AuxLogits.")
    body = {k: v for k, v in state.items() if not k.startswith(skip)}
    missing = [k for k in own if not k.startswith(skip) and k not in body]
    if missing:
        raise CelltoolError(f"not an Inception-v3 state_dict (missing {missing[0]})", path)
    net.load_state_dict(body, strict=False)
    net.fc = torch.nn.Identity()
    net.aux_logits, net.AuxLogits = False, None
    return net.eval().to(device)


def mask_batch(maps: Sequence[np.ndarray], size: int):
    """Masks or label maps → N×3×size×size float tensor in [-1, 1]."""
    import torch
    import torch.nn.functional as F

    from celltool_metrics.masks import as_labels

    x = torch.stack([torch.from_numpy((as_labels(m) > 0).astype(np.float32)) for m in maps])
    x = F.interpolate(x[:, None] * 2 - 1, size=(size, size), mode="bilinear", align_corners=False)
    return x.expand(-1, 3, -1, -1)


def features(net, maps: Sequence[np.ndarray], *, size: int = 299, batch: int = 16) -> np.ndarray:
    """N × 2048 pool features of the masks."""
    import torch

    device = next(net.parameters()).device
    out = []
    with torch.inference_mode():
        for i in range(0, len(maps), batch):
            x = mask_batch(maps[i : i + batch], size).to(device)
            out.append(net(x).float().cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, 2048))


def fid(a: np.ndarray, b: np.ndarray) -> float:
    """Fréchet distance of Gaussians fitted to two feature sets:
    ‖μa − μb‖² + Tr Sa + Tr Sb − 2 Tr (Sa Sb)^½.

    Tr (Sa Sb)^½ = Σ √λ over the eigenvalues λ of Sa Sb, which are those of the symmetric
    PSD matrix Xa Xbᵀ Xb Xaᵀ / ((na − 1)(nb − 1)) (X: centred features) when there are fewer
    samples than features, else of Sa^½ Sb Sa^½: symmetric eigenproblems instead of a general
    2048² matrix square root (seconds instead of minutes on a CPU; the same number)."""
    xa, xb = a - a.mean(0), b - b.mean(0)
    na, nb = len(a) - 1, len(b) - 1
    if min(na, nb) < 1:
        return float("nan")
    if len(a) <= a.shape[1]:
        m = (xa @ xb.T) @ (xb @ xa.T) / (na * nb)
    else:
        s1, s2 = xa.T @ xa / na, xb.T @ xb / nb
        vals, vecs = np.linalg.eigh(s1)
        root = (vecs * np.sqrt(np.clip(vals, 0, None))) @ vecs.T
        m = root @ s2 @ root
    lam = np.clip(np.linalg.eigvalsh((m + m.T) / 2), 0, None)
    trace = (xa * xa).sum() / na + (xb * xb).sum() / nb - 2 * np.sqrt(lam).sum()
    return float(((a.mean(0) - b.mean(0)) ** 2).sum() + trace)


def kid(
    a: np.ndarray,
    b: np.ndarray,
    *,
    subsets: int = 100,
    subset_size: int = 1000,
    rng: np.random.Generator | None = None,
) -> tuple[float, float]:
    """Unbiased MMD² with the kernel (x·y/d + 1)³, mean and std over random subsets."""
    rng = rng or np.random.default_rng(0)
    n = min(len(a), len(b), subset_size)
    if n < 2:
        return float("nan"), float("nan")
    d = a.shape[1]
    values = []
    for _ in range(subsets):
        x = a[rng.choice(len(a), n, replace=False)]
        y = b[rng.choice(len(b), n, replace=False)]
        kxx, kyy, kxy = ((x @ x.T) / d + 1) ** 3, ((y @ y.T) / d + 1) ** 3, ((x @ y.T) / d + 1) ** 3
        off = (kxx.sum() - np.trace(kxx) + kyy.sum() - np.trace(kyy)) / (n * (n - 1))
        values.append(off - 2 * kxy.mean())
    return float(np.mean(values)), float(np.std(values))


def scores(fa: np.ndarray, fb: np.ndarray, kid_subsets: int = 100) -> dict[str, float]:
    """KID (mean and std over subsets) and FID of two feature sets."""
    fa, fb = np.asarray(fa, np.float64), np.asarray(fb, np.float64)
    k, k_std = kid(fa, fb, subsets=kid_subsets)
    f = fid(fa, fb) if min(len(fa), len(fb)) > 1 else float("nan")
    return {"kid": k, "kid_std": k_std, "fid": f, "n_real": float(len(fa)),
            "n_gen": float(len(fb))}  # fmt: skip


def kid_fid(
    real: Sequence[np.ndarray],
    generated: Sequence[np.ndarray],
    *,
    inception_weights: str = "",
    inception_device: str = "cpu",
    inception_size: int = 299,
    kid_subsets: int = 100,
) -> dict[str, float]:
    """Set-level KID and FID of generated vs real masks (both sets at once)."""
    net = load_inception(inception_weights, inception_device)
    fa = features(net, list(real), size=inception_size)
    fb = features(net, list(generated), size=inception_size)
    return scores(fa, fb, kid_subsets)


@functools.lru_cache(maxsize=2)
def _cached_net(weights: str, device: str):
    """One network per process (each evaluate worker loads the file once)."""
    return load_inception(weights, device)


class KidFid:
    """``kid_fid`` as a registered distribution metric: per image its 2048 pool features,
    over the sets :func:`scores`."""

    def features(
        self,
        image: np.ndarray,
        *,
        inception_weights: str = "",
        inception_device: str = "cpu",
        inception_size: int = 299,
        **_: object,
    ) -> np.ndarray:
        net = _cached_net(str(inception_weights), str(inception_device))
        return features(net, [image], size=int(inception_size))[0]

    def compare(self, real, gen, *, kid_subsets: int = 100, **_: object) -> dict[str, float]:
        return scores(np.stack(list(real)), np.stack(list(gen)), int(kid_subsets))


kid_fid_metric = KidFid()
