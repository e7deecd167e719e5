"""``uploadwriter send --to``: from a destination's text to the writer and opts that write there.

=========================== ======================================================
``--to``                    writer
=========================== ======================================================
``tmpfile``                 ``TmpFileWriter`` (the default without ``--to``)
``sha256``, ``md5``, ...    ``HashWriter``: any ``hashlib`` algorithm; meta has the
                            digest. ``sha256=HEX`` also checks it (exit 1 if not)
``s3://bucket/key``         ``S3Writer`` with the default boto3 client (configured
                            the usual way: ``AWS_PROFILE``, ``AWS_ENDPOINT_URL_S3``
                            ...); ``s3://bucket/dir/`` appends the file's name
``http(s)://host/path``     ``HttpForwardWriter``: a PUT with the file's size as
                            ``Content-Length`` (chunked if the size is unknown)
=========================== ======================================================

Several ``--to`` write the file to each, through a ``TeeWriter``, in the
order given; the meta is then ``{"writers": [meta, ...]}``.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from typing import Any

import attrs

__all__ = ("Destination", "parse_destination", "writer_for")

_HINT = "tmpfile, a hashlib algorithm (sha256, sha256=HEX...), s3://bucket/key or http(s)://..."


@attrs.frozen
class Destination:
    """A parsed ``--to``: its kind and what follows (checked, not yet opened)."""

    kind: str  # "tmpfile", "hash", "s3", "http"
    text: str

    def writer(self, size: int | None, name: str) -> tuple[Any, Any]:
        """The writer and opts for a file of ``size`` bytes (``None``: unknown) named ``name``."""
        from . import writers

        if self.kind == "tmpfile":
            return writers.TmpFileWriter(), writers.TmpFileOpts()
        if self.kind == "hash":
            algorithm, _, expected = self.text.partition("=")
            return writers.HashWriter(), writers.HashOpts(algorithm, expected or None)
        if self.kind == "s3":
            bucket, _, key = self.text[len("s3://") :].partition("/")
            if key.endswith("/"):
                key += name
            return writers.S3Writer(), writers.S3Opts(bucket, key)
        return writers.HttpForwardWriter(), writers.HttpForwardOpts(self.text, content_length=size)


def parse_destination(text: str) -> Destination:
    """Check a ``--to`` value and say what it is.

    Raises:
        ValueError: it names no destination, or a malformed one; the message
            says what is allowed.
        ImportError: the destination needs an extra that is not installed.
    """
    from . import writers

    lowered = text.lower()
    if lowered.startswith("s3://"):
        bucket, _, key = text[len("s3://") :].partition("/")
        if not bucket or not key:
            raise ValueError(
                f"an S3 destination is s3://bucket/key (or s3://bucket/dir/), not {text!r}"
            )
        writers.S3Opts(bucket, key)  # checks the names, and that boto3 is there
        writers.S3Writer()
        return Destination("s3", text)
    if lowered.startswith(("http://", "https://")):
        writers.HttpForwardOpts(text)
        writers.HttpForwardWriter()
        return Destination("http", text)
    if text == "tmpfile":
        return Destination("tmpfile", text)
    algorithm, equals, expected = text.partition("=")
    if (
        algorithm in hashlib.algorithms_available
        or algorithm.lower() in hashlib.algorithms_available
    ):
        writers.HashOpts(algorithm, expected if equals else None)
        return Destination("hash", text)
    raise ValueError(f"unknown destination {text!r}: use {_HINT}")


def writer_for(destinations: Sequence[Destination], size: int | None, name: str) -> tuple[Any, Any]:
    """One writer and its opts for all ``destinations``: a ``TeeWriter`` when there are several."""
    from .writers import TeeWriter

    pairs = [d.writer(size, os.path.basename(name)) for d in destinations]
    if len(pairs) == 1:
        return pairs[0]
    return TeeWriter(*(w for w, _ in pairs)), tuple(o for _, o in pairs)
