"""unet-seg's training data: the core's labelled pairs (:mod:`celltool.training.labelled`)
with the targets of :mod:`celltool_unetseg.targets`."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from celltool.training.labelled import LabelledDataset
from celltool_unetseg.targets import N_OUT, make_target


class LabelPairsDataset(LabelledDataset):
    """Items ``{"input": 1×H×W, "target": H×W classes (uint8) | 2×H×W float32, "name"}``."""

    def __init__(self, folder: Path, split: str, config: Mapping[str, Any], train: bool) -> None:
        self.mode = str(config.get("targets", "boundary"))
        target = functools.partial(make_target, mode=self.mode)
        super().__init__(folder, split, config, train, target)

    @property
    def info(self) -> dict[str, Any]:
        return {
            "in_channels": 1,
            "out_channels": N_OUT[self.mode],
            "bit_depth": self.bit_depth,
            "size": [self.crop, self.crop],
            "n_train": len(self.items),
            "targets": self.mode,
        }
