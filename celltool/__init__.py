"""celltool: synthetic microscopy cell images for training and benchmarking segmentation.

Plugins import ``hookimpl`` from here and the component types from :mod:`celltool.components`.
"""

import pluggy

__version__ = "0.1.0"

hookimpl = pluggy.HookimplMarker("celltool")

__all__ = ["__version__", "hookimpl"]
