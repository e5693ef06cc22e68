"""Sources: where posts come from. File sources live in `files.py` (one parser per format)."""

from .files import (
    FORMATS,
    ColumnMapping,
    detect_format,
    mapping_from_options,
    parse_jetstream_event,
    parse_mastodon_status,
    read_file,
    read_inputs,
)

__all__ = [
    "FORMATS", "ColumnMapping", "detect_format", "mapping_from_options", "parse_jetstream_event", "parse_mastodon_status",
    "read_file", "read_inputs",
]
