"""Fluorescent spots (CellGen's spot tools, redone): ``celltool spots``, ``combine``, ``augment``.

Registration only: the commands' modules import numpy and friends inside their functions.
"""

from celltool import hookimpl


@hookimpl
def register_commands(app):
    from celltool_spots.commands import add

    add(app)
