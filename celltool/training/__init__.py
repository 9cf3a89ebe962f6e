"""The trainer framework shared by every model plugin (pix2pix, dual, ...).

A model plugin registers a :class:`~celltool.components.Component` under ``register_trainers``
whose target is a :class:`celltool.training.api.Trainer` subclass. The framework
(:mod:`celltool.training.loop`) does the rest: config resolution, devices, precision,
data order, checkpoints and exact resume, logging, torchrun data parallelism and ``generate``.
See docs/training.md.
"""
