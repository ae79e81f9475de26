"""Reading back the PDFs the app prints, with no PDF library: the pages' sizes and their text.

weasyprint writes compressed streams, object streams and subset fonts whose glyphs map back to
text through ToUnicode CMaps; that is all these helpers need to undo.
"""

from __future__ import annotations

import re
import zlib

A4_PORTRAIT = (595, 842)
A4_LANDSCAPE = (842, 595)
A5_PORTRAIT = (420, 595)


def inflated(pdf: bytes) -> list[bytes]:
    """The PDF's streams, expanded where they are compressed."""
    parts = []
    for stream in re.findall(rb"stream\r?\n(.*?)\r?\nendstream", pdf, re.DOTALL):
        try:
            parts.append(zlib.decompress(stream))
        except zlib.error:
            parts.append(stream)
    return parts


def page_sizes(pdf: bytes) -> list[tuple[float, float]]:
    """Width and height in points of each page's MediaBox."""
    boxes = re.findall(rb"/MediaBox\s*\[\s*([-\d.\s]+)\]", pdf + b"".join(inflated(pdf)))
    sizes = []
    for box in boxes:
        x0, y0, x1, y1 = (float(n) for n in box.split())
        sizes.append((x1 - x0, y1 - y0))
    return sizes


def _cmaps(streams: list[bytes]) -> list[dict[int, str]]:
    cmaps = []
    for stream in streams:
        if b"begincmap" not in stream:
            continue
        mapping: dict[int, str] = {}
        for block in re.findall(rb"beginbfchar(.*?)endbfchar", stream, re.DOTALL):
            for glyph, text in re.findall(rb"<([0-9a-fA-F]+)>\s*<([0-9a-fA-F]+)>", block):
                mapping[int(glyph, 16)] = bytes.fromhex(text.decode()).decode("utf-16-be")
        for block in re.findall(rb"beginbfrange(.*?)endbfrange", stream, re.DOTALL):
            for low, high, start in re.findall(rb"<([0-9a-fA-F]+)>\s*<([0-9a-fA-F]+)>\s*<([0-9a-fA-F]+)>", block):
                first = int(start, 16)
                for offset in range(int(high, 16) - int(low, 16) + 1):
                    mapping[int(low, 16) + offset] = chr(first + offset)
        cmaps.append(mapping)
    return cmaps


_SHOW = re.compile(rb"\[(.*?)\]\s*TJ|<([0-9a-fA-F]*)>\s*Tj", re.DOTALL)


def texts(pdf: bytes) -> list[str]:
    """The text shown on the pages, decoded once with each embedded font's CMap (the fonts'
    glyph numbers differ, and a run of text is in one font): look for a phrase in any of them."""
    streams = inflated(pdf)
    shown = []
    for stream in streams:
        for array, single in _SHOW.findall(stream):
            runs = re.findall(rb"<([0-9a-fA-F]*)>", array) if array else [single]
            shown.append([bytes.fromhex(run.decode()) for run in runs])
    decoded = []
    for cmap in _cmaps(streams):
        lines = []
        for runs in shown:
            glyphs = [int.from_bytes(run[i:i + 2], "big") for run in runs for i in range(0, len(run), 2)]
            lines.append("".join(cmap.get(g, "\ufffd") for g in glyphs))
        decoded.append("\n".join(lines))
    return decoded


def has_text(pdf: bytes, phrase: str) -> bool:
    """Whether the phrase is printed, wherever the layout broke its lines."""
    wanted = re.sub(r"\s", "", phrase)
    return any(wanted in re.sub(r"\s", "", text) for text in texts(pdf))
