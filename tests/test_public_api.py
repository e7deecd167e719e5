"""The public surface is what it claims: ``__all__``, re-exports, and the error classes."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import types

import pytest

import uploadwriter
import uploadwriter.reducer
import uploadwriter.uploads
import uploadwriter.web
import uploadwriter.writers
from uploadwriter import UploadError

PUBLIC_MODULES = [
    uploadwriter,
    uploadwriter.writers,
    uploadwriter.reducer,
    uploadwriter.uploads,
    uploadwriter.web,
]


def _public_names(module: types.ModuleType) -> set[str]:
    """Names a user can import from ``module``, leaving out submodules and imports of modules."""
    return {
        name
        for name, value in vars(module).items()
        if not name.startswith("_")
        and not isinstance(value, types.ModuleType)
        and name not in {"annotations"}  # from __future__ import annotations
    }


@pytest.mark.parametrize("module", PUBLIC_MODULES, ids=lambda m: m.__name__)
def test_all_is_a_tuple_of_existing_names(module: types.ModuleType) -> None:
    exported = module.__all__
    assert isinstance(exported, tuple)
    assert len(set(exported)) == len(exported)
    for name in exported:
        assert hasattr(module, name), name


@pytest.mark.parametrize(
    "module", [uploadwriter, uploadwriter.writers, uploadwriter.web], ids=lambda m: m.__name__
)
def test_all_is_exactly_the_public_names(module: types.ModuleType) -> None:
    assert set(module.__all__) == _public_names(module)


def test_star_import_gives_exactly_all() -> None:
    namespace: dict[str, object] = {}
    exec("from uploadwriter import *", namespace)
    namespace.pop("__builtins__")
    assert set(namespace) == set(uploadwriter.__all__)


def test_the_names_of_the_design_are_public() -> None:
    design = {
        "UploadWriter",
        "AsyncUploadWriter",
        "Ok",
        "Err",
        "Chunk",
        "Done",
        "Cancel",
        "Error",
        "Event",
        "CloseReason",
        "Uploader",
        "AsyncUploader",
        "UploadError",
        "InitError",
        "FileTooLarge",
        "WriterFailure",
        "IncompleteUpload",
        "UploadClosed",
        "UploadInProgress",
        "UploadFailed",
        "ChunkTimeout",
    }
    assert design <= set(uploadwriter.__all__)
    assert {"TmpFileWriter", "EchoWriter"} <= set(uploadwriter.writers.__all__)
    assert {"reduce", "start", "Upload", "Step", "Phase", "TRANSITIONS"} <= set(
        uploadwriter.reducer.__all__
    )


def test_public_classes_and_functions_come_from_the_package() -> None:
    for module in PUBLIC_MODULES:
        for name in module.__all__:
            value = getattr(module, name)
            if inspect.isclass(value) or inspect.isfunction(value):
                assert value.__module__.startswith("uploadwriter"), (module.__name__, name)


def test_version_is_a_string() -> None:
    assert isinstance(uploadwriter.__version__, str)
    assert uploadwriter.__version__.count(".") >= 1


def _exported_errors(module: types.ModuleType, defined_in: str | None = None) -> list[type]:
    return [
        value
        for name in module.__all__
        if inspect.isclass(value := getattr(module, name))
        and issubclass(value, BaseException)
        and (defined_in is None or value.__module__ == defined_in)
    ]


# The web layer's errors (its _errors module: the upload failures it answers)
# are exported from uploadwriter.web, which needs its extra.
ERRORS = sorted(
    _exported_errors(uploadwriter)
    + _exported_errors(uploadwriter.web, defined_in="uploadwriter.web._errors"),
    key=lambda cls: cls.__name__,
)


def _errors_modules() -> list[types.ModuleType]:
    """Every ``_errors`` module of the package, where its exception classes live."""
    return [
        importlib.import_module(info.name)
        for info in pkgutil.walk_packages(uploadwriter.__path__, "uploadwriter.")
        if info.name.rsplit(".", 1)[-1] == "_errors"
    ]


def test_every_exception_class_of_the_package_is_exported() -> None:
    modules = _errors_modules()
    assert "uploadwriter._errors" in {m.__name__ for m in modules}
    defined = {
        value
        for module in modules
        for value in vars(module).values()
        if inspect.isclass(value)
        and issubclass(value, BaseException)
        and value.__module__ == module.__name__
    }
    assert defined == set(ERRORS)


@pytest.mark.parametrize("error", ERRORS, ids=lambda cls: cls.__name__)
def test_every_error_derives_from_upload_error(error: type[BaseException]) -> None:
    assert issubclass(error, UploadError)
    assert issubclass(error, Exception)


@pytest.mark.parametrize("error", ERRORS, ids=lambda cls: cls.__name__)
def test_every_error_has_a_one_line_docstring(error: type[BaseException]) -> None:
    doc = error.__dict__.get("__doc__")
    assert isinstance(doc, str), f"{error.__name__} has no docstring of its own"
    assert "\n" not in doc.strip()
    assert doc.strip().endswith(".")
    assert len(doc.strip()) > 20


def test_bad_input_errors_are_also_builtin_errors() -> None:
    assert issubclass(uploadwriter.InvalidEvent, TypeError)
    assert issubclass(uploadwriter.InvalidLimit, ValueError)


def test_errors_carry_what_they_are_about() -> None:
    reason = OSError("disk full")
    failure = uploadwriter.WriterFailure(reason, during="write_chunk")
    assert (failure.reason, failure.during, failure.__cause__) == (reason, "write_chunk", reason)
    init = uploadwriter.InitError("no room")
    assert init.reason == "no room"
    assert init.__cause__ is None  # only exceptions are chained
    too_large = uploadwriter.FileTooLarge(10, 8, 5)
    assert (too_large.limit, too_large.size, too_large.attempted) == (10, 8, 5)
    assert "13 bytes" in str(too_large)
    timeout = uploadwriter.ChunkTimeout(0.25)
    assert timeout.seconds == 0.25
    assert "0.25 seconds" in str(timeout)


def test_error_messages_survive_a_failing_repr() -> None:
    class Unprintable:
        def __repr__(self) -> str:
            raise RuntimeError("no repr")

    message = str(uploadwriter.WriterFailure(Unprintable(), during="close"))
    assert "Unprintable object (repr failed)" in message
