# Type stub for the parts of `multipart` (PyPI: multipart, Marcel Hellkamp's
# parser, which ships no type information) that uploadwriter.web uses.
# mypy finds it through mypy_path, pyright through stubPath (both "stubs").

from collections.abc import Generator
from typing import Final

__version__: Final[str]

class MultipartError(ValueError):
    http_status: int

class ParserError(MultipartError): ...
class StrictParserError(ParserError): ...
class ParserLimitReached(MultipartError): ...
class ParserStateError(MultipartError): ...

def parse_options_header(header: str) -> tuple[str, dict[str, str]]: ...

class MultipartSegment:
    headerlist: list[tuple[str, str]]
    disposition: str | None
    name: str | None
    filename: str | None
    content_type: str | None
    charset: str | None
    bytes_received: int
    complete: bool
    def header(self, name: str, default: str | None = None) -> str | None: ...

class PushMultipartParser:
    boundary: bytes
    closed: bool
    error: MultipartError | None
    def __init__(
        self,
        boundary: str | bytes,
        content_length: int = -1,
        max_header_size: int = ...,
        max_header_count: int = ...,
        max_segment_size: float = ...,
        max_segment_count: float = ...,
        header_charset: str = "utf8",
        strict: bool = False,
    ) -> None: ...
    def parse(self, chunk: bytes | bytearray) -> Generator[MultipartSegment | bytes | None]: ...
    def close(self, check_complete: bool = True) -> None: ...
