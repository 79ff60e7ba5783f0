"""PNG metadata other tools read: A1111 ``parameters`` infotext plus our JSON pass record."""

from core.metadata.infotext import build_infotext, parse_infotext
from core.metadata.png import (
    RECORD_CHUNK,
    decode_user_comment,
    format_summary,
    read_metadata,
    write_png,
)

__all__ = [
    "RECORD_CHUNK",
    "build_infotext",
    "decode_user_comment",
    "format_summary",
    "parse_infotext",
    "read_metadata",
    "write_png",
]
