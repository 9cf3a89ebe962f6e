"""Reading and writing images without silent conversion.

PNG (8/16-bit, gray, RGB, RGBA), TIFF (uint8/uint16/float32 and more; 2D, multi-channel and
3D stacks with their axes recorded) and, read-only, JPEG/BMP. Arrays are (Y, X), (Y, X, C) or
(Z, Y, X); colour channels are RGB order. Every write is atomic (temp file + rename).
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from celltool.errors import CelltoolError

READ_EXTS = (".png", ".tif", ".tiff", ".jpg", ".jpeg", ".bmp")
TIFF_EXTS = (".tif", ".tiff")
PNG_DTYPES = (np.uint8, np.uint16)
TIFF_DTYPES = (np.uint8, np.uint16, np.int16, np.int32, np.uint32, np.float32, np.float64, np.bool_)


def natural_key(name: str | Path) -> list:
    """Sort key that puts ``2.png`` before ``10.png``."""
    text = Path(name).name
    return [int(tok) if tok.isdigit() else tok.lower() for tok in re.split(r"(\d+)", text)]


def is_image_file(path: Path) -> bool:
    return path.suffix.lower() in READ_EXTS and not path.name.startswith(".")


def list_images(folder: str | Path, *, allow_empty: bool = False) -> list[Path]:
    """Image files directly in ``folder``, in natural order. Errors name the folder."""
    folder = Path(folder)
    if not folder.exists():
        raise CelltoolError("folder does not exist", folder)
    if not folder.is_dir():
        raise CelltoolError("is not a folder", folder)
    files = sorted(
        (p for p in folder.iterdir() if p.is_file() and is_image_file(p)), key=natural_key
    )
    if not files and not allow_empty:
        raise CelltoolError(f"holds no images (looked for {', '.join(READ_EXTS)})", folder)
    return files


def default_mode(directory: bool = False) -> int:
    """The permissions a plain ``open``/``mkdir`` would give (0666/0777 less the umask);
    temp files and folders are created 0600/0700, so published outputs are set to this."""
    mask = os.umask(0)
    os.umask(mask)
    return (0o777 if directory else 0o666) & ~mask


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temp file in the same folder and a rename."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, default_mode())
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_image(path: str | Path) -> np.ndarray:
    """Read an image as stored: dtype, bit depth and channels are kept (RGB order)."""
    path = Path(path)
    ext = path.suffix.lower()
    if ext not in READ_EXTS:
        raise CelltoolError(f"not an image file (celltool reads {', '.join(READ_EXTS)})", path)
    try:
        if ext in TIFF_EXTS:
            import tifffile

            return np.asarray(tifffile.imread(path))
        return _read_cv2(path)
    except CelltoolError:
        raise
    except FileNotFoundError:
        raise CelltoolError("file does not exist", path) from None
    except Exception as exc:
        raise CelltoolError(f"cannot read image ({exc.__class__.__name__}: {exc})", path) from None


def _cv2():
    """OpenCV, with its own log lines off: errors reach the user as one celltool line."""
    import cv2

    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
    return cv2


def _read_cv2(path: Path) -> np.ndarray:
    cv2 = _cv2()
    buffer = np.fromfile(path, dtype=np.uint8)
    image = cv2.imdecode(buffer, cv2.IMREAD_UNCHANGED) if buffer.size else None
    if image is None:
        raise CelltoolError("cannot read image (corrupt, empty or not an image)", path)
    if image.ndim == 3 and image.shape[2] == 3:
        image = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    elif image.ndim == 3 and image.shape[2] == 4:
        image = cv2.cvtColor(image, cv2.COLOR_BGRA2RGBA)
    return image


def tiff_axes(path: str | Path) -> str | None:
    """Axes recorded in a TIFF written by celltool (e.g. ``"ZYX"``), else None."""
    import tifffile

    with tifffile.TiffFile(path) as tif:
        meta = tif.shaped_metadata
        if meta and "axes" in meta[0]:
            return str(meta[0]["axes"])
    return None


def write_image(path: str | Path, image: np.ndarray, *, axes: str | None = None) -> Path:
    """Write losslessly and atomically; refuse what the format cannot hold exactly.

    PNG holds uint8/uint16 with 1, 3 or 4 channels; anything else (float32, 3D stacks,
    other channel counts) needs ``.tif``. JPEG is never written.
    """
    path = Path(path)
    image = np.asarray(image)
    ext = path.suffix.lower()
    if ext == ".png":
        data = _encode_png(path, image)
    elif ext in TIFF_EXTS:
        data = _encode_tiff(path, image, axes)
    else:
        raise CelltoolError("celltool writes only .png and .tif/.tiff (lossless)", path)
    atomic_write_bytes(path, data)
    return path


def _encode_png(path: Path, image: np.ndarray) -> bytes:
    cv2 = _cv2()
    if image.dtype == np.bool_:
        image = image.astype(np.uint8) * 255
    if image.dtype not in PNG_DTYPES:
        raise CelltoolError(f"PNG cannot hold {image.dtype} exactly; write .tif instead", path)
    if not (image.ndim == 2 or (image.ndim == 3 and image.shape[2] in (1, 3, 4))):
        raise CelltoolError(
            f"PNG holds (Y, X) or (Y, X, 1|3|4) images, not shape {image.shape}; write .tif", path
        )
    if image.ndim == 3 and image.shape[2] == 3:
        image = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    elif image.ndim == 3 and image.shape[2] == 4:
        image = cv2.cvtColor(image, cv2.COLOR_RGBA2BGRA)
    ok, buffer = cv2.imencode(".png", np.ascontiguousarray(image), [cv2.IMWRITE_PNG_COMPRESSION, 1])
    if not ok:
        raise CelltoolError("PNG encoding failed", path)
    return buffer.tobytes()


def _encode_tiff(path: Path, image: np.ndarray, axes: str | None) -> bytes:
    import io

    import tifffile

    if image.dtype.type not in TIFF_DTYPES:
        raise CelltoolError(f"celltool does not write {image.dtype} TIFFs", path)
    if image.dtype == np.bool_:
        image = image.astype(np.uint8)
    axes = axes or default_axes(image)
    if len(axes) != image.ndim:
        raise CelltoolError(f"axes {axes!r} do not fit an array of shape {image.shape}", path)
    buffer = io.BytesIO()
    photometric = "rgb" if axes.endswith("C") and image.shape[-1] in (3, 4) else "minisblack"
    tifffile.imwrite(buffer, image, photometric=photometric, metadata={"axes": axes})
    return buffer.getvalue()


def default_axes(image: np.ndarray) -> str:
    """``YX`` for 2D; ``YXC`` for a trailing channel axis of 1–4; ``ZYX`` otherwise."""
    if image.ndim == 2:
        return "YX"
    if image.ndim == 3:
        return "YXC" if image.shape[2] <= 4 else "ZYX"
    if image.ndim == 4:
        return "ZYXC"
    raise ValueError(f"unsupported image shape {image.shape}")


def as_labels(labels: np.ndarray, path: str | Path) -> np.ndarray:
    """An instance or class label map as uint16, or a one-line error naming ``path``."""
    labels = np.asarray(labels)
    if labels.dtype.kind not in "biu":
        raise CelltoolError(f"label maps must be integer, not {labels.dtype}", path)
    if labels.size and (labels.min() < 0 or labels.max() > np.iinfo(np.uint16).max):
        raise CelltoolError("label values must lie in 0..65535 to be stored as uint16", path)
    return labels.astype(np.uint16, copy=False)


def write_labels(path: str | Path, labels: np.ndarray) -> Path:
    """Write an instance or class label map losslessly as uint16 (PNG or TIFF)."""
    return write_image(path, as_labels(labels, path))


def bit_depth_of(image: np.ndarray) -> int | None:
    """Bits of the integer type (8, 16, ...); None for float images."""
    if image.dtype.kind in "ui":
        return image.dtype.itemsize * 8
    if image.dtype == np.bool_:
        return 1
    return None


def iter_images(folder: str | Path) -> Iterator[tuple[Path, np.ndarray]]:
    """Stream ``(path, array)`` pairs in natural order; only one image in memory at a time."""
    for path in list_images(folder):
        yield path, read_image(path)


def list_image_tree(folder: str | Path) -> list[Path]:
    """Image files of ``folder`` relative to it, in natural order: the images directly in it,
    or, when it holds none, those of its sub-folders (one level, e.g. one per sequence)."""
    folder = Path(folder)
    files = list_images(folder, allow_empty=True)
    if not files:
        subs = sorted((p for p in folder.iterdir() if p.is_dir()), key=natural_key)
        files = [f for sub in subs for f in list_images(sub, allow_empty=True)]
    if not files:
        list_images(folder)  # raises "holds no images"
    return [f.relative_to(folder) for f in files]


def matching_files(folder: str | Path, names: list[Path]) -> list[Path]:
    """For every relative image path in ``names``, the file of ``folder`` with the same
    sub-folder and stem (any image extension): parts of one item share their stem."""
    folder = Path(folder)
    index: dict[tuple[Path, str], Path] = {}
    for parent in {n.parent for n in names}:
        for path in list_images(folder / parent, allow_empty=True):
            index.setdefault((parent, path.stem), path)
    out = []
    for name in names:
        found = index.get((name.parent, name.stem))
        if found is None:
            raise CelltoolError(f"has no file for image '{name}' (parts share file stems)", folder)
        out.append(found)
    return out
