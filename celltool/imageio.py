"""Reading and writing images without silent conversion.

PNG (8/16-bit, gray, RGB, RGBA), TIFF (uint8/uint16/float32 and more; 2D, multi-channel and
3D stacks with their axes recorded) and, read-only, JPEG/BMP. Arrays are (Y, X), (Y, X, C) or
(Z, Y, X); colour channels are RGB order. Every write is atomic (temp file + rename).
"""

from __future__ import annotations

import contextlib
import os
import re
import struct
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
    """Image files directly in ``folder``, in natural order. Errors name the folder.

    Two images with one stem (``x.png`` and ``x.jpg``) are an error: the parts of an item are
    matched by stem and outputs are named after it, so one of them would be lost silently.
    """
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
    check_stems(files, folder)
    return files


def check_stems(files: list[Path], folder: Path) -> None:
    """CelltoolError naming ``folder`` when two of ``files`` share a stem."""
    seen: dict[str, Path] = {}
    for path in files:
        if path.stem in seen:
            raise CelltoolError(
                f"holds two images named '{path.stem}' ({seen[path.stem].name} and "
                f"{path.name}); files are matched and written by stem: keep one",
                folder,
            )
        seen[path.stem] = path


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
    """Read an image as stored: dtype, bit depth and channels are kept (RGB order).

    The size in the file's header is checked before decoding (:func:`check_size`): a small
    file that claims a huge image is one line, not minutes of work or a decoder's assertion.
    """
    path = Path(path)
    ext = path.suffix.lower()
    if ext not in READ_EXTS:
        raise CelltoolError(f"not an image file (celltool reads {', '.join(READ_EXTS)})", path)
    check_size(path)
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
    with _captured_stderr() as said:  # libpng/libjpeg print to the process's stderr
        image = cv2.imdecode(buffer, cv2.IMREAD_UNCHANGED) if buffer.size else None
    if image is None:
        why = " ".join(said).strip()
        why = f"; {why[:200]}" if why else ""
        raise CelltoolError(f"cannot read image (corrupt, empty or not an image{why})", path)
    if image.ndim == 3 and image.shape[2] == 3:
        image = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    elif image.ndim == 3 and image.shape[2] == 4:
        image = cv2.cvtColor(image, cv2.COLOR_BGRA2RGBA)
    return image


@contextlib.contextmanager
def _captured_stderr() -> Iterator[list[str]]:
    """Collect what C libraries write to file descriptor 2 (libpng's warnings and errors) so
    that it reaches the user inside celltool's one line, or not at all. The yielded list is
    filled when the block ends."""
    said: list[str] = []
    try:
        saved = os.dup(2)
    except OSError:  # no stderr to capture
        yield said
        return
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield said
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            said += sink.read().decode(errors="replace").splitlines()


MAX_PLANE = 2**28  # pixels of one 2D plane (16384²): larger images are refused before decoding
MAX_ELEMENTS = 2**31  # values of one image (stacks and channels included)


def header_shape(path: Path) -> tuple[tuple[int, ...], int] | None:
    """``(shape, pixels per plane)`` from the file's header without decoding the pixels, or
    None when the header cannot be read (decoding then says what is wrong)."""
    ext = path.suffix.lower()
    try:
        if ext == ".png":
            with open(path, "rb") as fh:
                head = fh.read(33)
            if len(head) < 26 or head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
                return None
            width, height = struct.unpack(">II", head[16:24])
            channels = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}.get(head[25], 4)
            shape = (height, width) if channels == 1 else (height, width, channels)
            return shape, height * width
        if ext in TIFF_EXTS:
            import tifffile

            with tifffile.TiffFile(path) as tif:
                series = tif.series[0]
                shape, axes = tuple(series.shape), series.axes
            plane = shape[axes.index("Y")] * shape[axes.index("X")] if "Y" in axes else 0
            return shape, plane or int(np.prod(shape[-2:], dtype=np.int64))
        with open(path, "rb") as fh:
            found = _jpeg_shape(fh) if ext in (".jpg", ".jpeg") else _bmp_shape(fh.read(26))
        return None if found is None else (found, found[0] * found[1])
    except Exception:  # noqa: BLE001 - an unreadable header: decoding reports it
        return None


# JPEG frame headers (SOFn) hold the size; other markers are skipped by their length
_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def _jpeg_shape(fh) -> tuple[int, ...] | None:
    if fh.read(2) != b"\xff\xd8":
        return None
    for _ in range(1000):  # markers before the first frame header
        head = fh.read(4)
        if len(head) < 4 or head[0] != 0xFF:
            return None
        marker, length = head[1], struct.unpack(">H", head[2:4])[0]
        if marker in _SOF:
            body = fh.read(6)
            height, width = struct.unpack(">HH", body[1:5])
            return (height, width) if body[5] == 1 else (height, width, body[5])
        fh.seek(length - 2, 1)
    return None


def _bmp_shape(head: bytes) -> tuple[int, ...] | None:
    if len(head) < 26 or head[:2] != b"BM":
        return None
    width, height = struct.unpack("<ii", head[18:26])
    return (abs(height), abs(width))


def check_size(path: Path) -> None:
    """CelltoolError naming ``path`` when its header claims more than celltool decodes."""
    found = header_shape(path)
    if found is None:
        return
    shape, plane = found
    total = int(np.prod(shape, dtype=np.int64))
    if plane > MAX_PLANE or total > MAX_ELEMENTS:
        size = "x".join(map(str, shape))
        raise CelltoolError(
            f"image of {size} is larger than celltool decodes ({MAX_PLANE:,} px per plane, "
            f"{MAX_ELEMENTS:,} values); crop or tile it first",
            path,
        )


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
