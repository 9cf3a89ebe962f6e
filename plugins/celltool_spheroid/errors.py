"""Errors of the spheroid simulator: both are ValueErrors for numpy-style callers and celltool
errors for the CLI (one line; a bad option exits 2, unusable data 1)."""

from __future__ import annotations

from celltool.errors import CelltoolError, UsageError


class BadParameter(UsageError, ValueError):
    """A parameter out of its bounds or not one of its choices."""


class BadInput(CelltoolError, ValueError):
    """Data the simulator cannot use (an empty mask, a PSF without signal, ...); the glue that
    read it adds the file name."""
