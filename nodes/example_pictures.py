"""The pictures the real-checkpoint templates open with, put where Load Image finds them.

Load Image lists only ComfyUI's input folder, so a template that names a shipped picture runs
as shipped only if the picture is there. At load the pack copies each file of its
`example_pictures/` folder into the input folder when no file of that name exists; a user's
file of the same name is never overwritten.
"""
from __future__ import annotations

import logging
import os
import shutil

PACK_PICTURES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "example_pictures")
PICTURE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")


def install_example_pictures(input_dir: str | None = None) -> list[str]:
    """Copies the pack's example pictures into `input_dir` (default: ComfyUI's input folder) where
    missing; returns the names copied. A read-only or missing folder is logged, not raised: the
    pack's nodes work without the pictures."""
    if input_dir is None:
        try:
            import folder_paths
        except ImportError:  # outside ComfyUI
            return []
        input_dir = folder_paths.get_input_directory()
    copied = []
    try:
        os.makedirs(input_dir, exist_ok=True)
        for name in sorted(os.listdir(PACK_PICTURES)):
            target = os.path.join(input_dir, name)
            if name.lower().endswith(PICTURE_SUFFIXES) and not os.path.exists(target):
                shutil.copyfile(os.path.join(PACK_PICTURES, name), target)
                copied.append(name)
    except OSError as e:
        logging.warning("ComfyUI-SDE-Drag: could not copy the example pictures into %s (%s); the templates "
                        "11-17 then need a picture of your own in Load Image", input_dir, e)
    return copied
