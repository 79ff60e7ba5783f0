"""PNG metadata other tools read: A1111 ``parameters`` infotext plus our JSON pass record."""

from core.metadata.infotext import (
    MAX_INFOTEXT_CHARS,
    InfotextTooLong,
    build_infotext,
    parse_infotext,
)
from core.metadata.png import (
    RECORD_CHUNK,
    decode_user_comment,
    format_summary,
    read_metadata,
    read_record,
    write_png,
)

__all__ = [
    "MAX_INFOTEXT_CHARS",
    "RECORD_CHUNK",
    "InfotextTooLong",
    "build_infotext",
    "decode_user_comment",
    "format_summary",
    "parse_infotext",
    "read_metadata",
    "read_record",
    "write_png",
]
