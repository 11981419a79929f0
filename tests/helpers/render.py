"""The reference renderer and pixel reader that the drawing tests compare scribe's pages against.

cairosvg renders a page's SVG independently of scribe's own cairo drawing (it is a
test dependency only), and :func:`png_pixels` reads any PNG back into cairo's own
pixel layout, so a test sees exactly what cairo stored.
"""

from __future__ import annotations

import numpy as np

from scribe.writing import cairo


def svg_to_png(svg: str, dpi: float) -> bytes:
    """cairosvg's rendering of an SVG at ``dpi`` pixels per inch (a page without background stays transparent)."""
    import cairosvg

    return cairosvg.svg2png(bytestring=svg.encode("utf-8"), dpi=dpi)


def png_pixels(png: bytes) -> tuple[int, int, np.ndarray]:
    """Width, height and (height, width, 4) premultiplied BGRA bytes of a PNG, read with cairo."""
    with cairo.png_surface(png) as surface:
        pixels = surface.pixels().copy()
    return pixels.shape[1], pixels.shape[0], pixels
