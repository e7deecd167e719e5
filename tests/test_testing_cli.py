"""`uploadwriter check MODULE:ATTR`: exit 0, 1 with a report, 2 for bad usage."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from uploadwriter._cli import main

QUICK = ["--max-examples", "15"]
PATHS = (
    "done, size-reached, cancel, left-open, write-err, write-raised, too-large, incomplete, "
    "after-close"
)


@pytest.fixture(autouse=True)
def _hypothesis_storage_as_usual(monkeypatch: pytest.MonkeyPatch) -> None:
    # `check` sends Hypothesis's files to the user's cache directory unless this
    # variable says where: in this process, keep them where they were.
    monkeypatch.setenv("HYPOTHESIS_STORAGE_DIRECTORY", str(Path.cwd() / ".hypothesis"))


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(["check", *argv])
    out, err = capsys.readouterr()
    return status, out, err


def test_a_sound_writer_passes(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run(capsys, "tests.zoo:MemoryWriter", *QUICK)
    assert status == 0, err
    assert out == (
        "tests.zoo:MemoryWriter: laws a-e hold over 24 uploads (sync writer): "
        f"9 fixed, 15 generated\n  close paths covered: {PATHS}\n"
    )


def test_an_async_writer_instance_with_opts_and_fds(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(
        capsys, "tests.test_testing_cli:ASYNC_WRITER", "--opts", "{}", "--fds", *QUICK
    )
    assert status == 0
    assert "laws a-f hold over 24 uploads (async writer): 9 fixed, 15 generated" in out


def test_opts_are_built_with_the_class_init_is_annotated_with(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    opts = f'{{"dir": "{tmp_path}", "prefix": "kit-"}}'
    status, out, err = run(
        capsys, "uploadwriter.writers:TmpFileWriter", "--opts", opts, "--fds", *QUICK
    )
    assert status == 0, err
    assert "laws a-f hold" in out


def test_opts_annotated_with_no_class_are_passed_as_json(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Mapping[str, object] made `check` crash on Python 3.10 (issubclass of an alias).
    targets = ("tests.zoo:UnresolvableOptsWriter", "tests.zoo:DictOptsWriter")
    for target in (*targets, "tests.zoo:MappingOptsWriter"):
        status, _, err = run(capsys, target, "--opts", '{"a": 1}', *QUICK)
        assert status == 0, err


def test_a_broken_writer_fails_with_a_report(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run(capsys, "tests.zoo:MutatingWriter", *QUICK)
    assert status == 1
    assert out == ""
    assert err.startswith("uploadwriter check: FAILED, law b is broken\n")
    assert "tests.zoo.MutatingWriter breaks law b" in err
    assert "replay(writer, {}, EventStream(" in err


def test_a_flaky_writer_fails_and_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = run(capsys, "tests.zoo:FlakyWriter")
    assert status == 1
    assert "uploadwriter check: FAILED: Flaky" in err


def test_a_leak_of_descriptors_fails_with_fds(capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = run(capsys, "tests.zoo:AsyncFdLeakWriter", "--fds", *QUICK)
    assert status == 1
    assert "law f is broken" in err


@pytest.mark.parametrize(
    ("target", "opts", "message"),
    [
        (
            "tests.zoo",
            "{}",
            "expected MODULE:ATTR, e.g. mypackage.writers:S3Writer, not 'tests.zoo'",
        ),
        (
            "no_such_module_xyz:Writer",
            "{}",
            "cannot import module 'no_such_module_xyz': ModuleNotFoundError",
        ),
        ("tests.zoo:Nope", "{}", "module 'tests.zoo' has no attribute 'Nope'"),
        (
            "tests.zoo:NOT_A_WRITER",
            "{}",
            "tests.zoo:NOT_A_WRITER is not an upload writer: int is not",
        ),
        (
            "tests.zoo:MixedWriter",
            "{}",
            "write_chunk must be a plain 'def', not async",
        ),
        (
            "tests.zoo:NeedsArguments",
            "{}",
            "cannot create tests.zoo:NeedsArguments() with no arguments",
        ),
        (
            "uploadwriter.writers:EchoWriter",
            '{"level": 5.5}',
            '--opts {"level": 5.5} is not valid for EchoOpts: ValueError: EchoOpts.level must be',
        ),
        (
            "uploadwriter.writers:TmpFileWriter",
            '{"dir": "/no/such/dir"}',
            "init refused the opts TmpFileOpts(dir='/no/such/dir', prefix='upload-', suffix='')",
        ),
        ("tests.zoo:RefusingWriter", "{}", "init refused the opts {}: 'no'; the check needs opts"),
    ],
)
def test_bad_usage_exits_2_and_says_why(
    capsys: pytest.CaptureFixture[str], target: str, opts: str, message: str
) -> None:
    status, out, err = run(capsys, target, "--opts", opts, *QUICK)
    assert status == 2
    assert out == ""
    assert message in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["x:y", "--opts", "{bad"], "argument --opts: must be JSON"),
        (["x:y", "--max-examples", "0"], "argument --max-examples: must be at least 1"),
        (["x:y", "--max-examples", "many"], "must be a whole number, not 'many'"),
        ([], "the following arguments are required: MODULE:ATTR"),
    ],
)
def test_bad_arguments_exit_2(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["check", *argv])
    assert exit_.value.code == 2
    assert message in capsys.readouterr().err


def test_the_command_line_in_a_process(tmp_path: Path) -> None:
    # A writer module in the current directory is importable, as with `python -m`.
    (tmp_path / "mywriter.py").write_text(
        "from tests.zoo import MemoryWriter\nwriter = MemoryWriter()\n"
    )
    root = Path(__file__).parent.parent
    result = subprocess.run(
        [sys.executable, "-m", "uploadwriter", "check", "mywriter:writer", "--max-examples", "5"],
        cwd=tmp_path,
        env={"PYTHONPATH": str(root), "PATH": "", "XDG_CACHE_HOME": str(tmp_path / "cache")},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(
        "mywriter:writer: laws a-e hold over 14 uploads (sync writer): 9 fixed, 5 generated\n"
    )


def test_checking_the_tmpfile_writer_leaves_the_machine_clean(tmp_path: Path) -> None:
    # As a user runs it: no --opts (files in the temp directory), in a
    # directory of their own. Completed uploads go through the writer's
    # discard hook; Hypothesis's files go to the user's cache directory.
    temp, work, cache = tmp_path / "tmp", tmp_path / "work", tmp_path / "cache"
    for directory in (temp, work, cache):
        directory.mkdir()
    env = {
        "PYTHONPATH": str(Path(__file__).parent.parent),
        "PATH": "",
        "TMPDIR": str(temp),
        "XDG_CACHE_HOME": str(cache),
    }
    command = ["check", "uploadwriter.writers:TmpFileWriter", "--fds", "--max-examples", "40"]
    result = subprocess.run(
        [sys.executable, "-m", "uploadwriter", *command, "--sizes", "128KiB"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "laws a-f hold over 58 uploads (sync writer): 18 fixed, 40 generated" in result.stdout
    assert list(temp.iterdir()) == []
    assert list(work.iterdir()) == []
    assert (cache / "uploadwriter" / "hypothesis").is_dir()


def test_help_says_where_hypothesis_keeps_its_files(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["check", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "~/.cache/uploadwriter/hypothesis), never the current directory" in text
    assert "HYPOTHESIS_STORAGE_DIRECTORY" in text
    assert "discard(state)" in text
    assert "--sizes SIZES sizes where the writer changes behaviour" in text
    assert "131072,6MiB" in text


def test_sizes_are_parsed_with_units(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run(capsys, "tests.zoo:MemoryWriter", "--sizes", "1000, 1KiB,2kb", *QUICK)
    assert status == 0, err
    assert "over 51 uploads (sync writer): 36 fixed, 15 generated" in out
    assert out.endswith("  around the sizes: 1000, 1024, 2000\n")


def test_a_bug_past_a_size_given_on_the_command_line_is_found(
    capsys: pytest.CaptureFixture[str],
) -> None:
    status, _, err = run(capsys, "tests.zoo:PastSixMiBWriter", "--sizes", "6MiB", *QUICK)
    assert status == 1
    assert "law d is broken" in err
    assert "a fixed upload for sizes=[6291456]: 6291457 bytes, then Done()" in err
    assert "*[Chunk((b'abcdefghijklmnopqrstuvwxyz' * 2462)[:64000])] * 98" in err


@pytest.mark.parametrize(
    ("sizes", "message"),
    [
        ("6Mb?", "--sizes: '6Mb?' is not a size: give bytes, or a number and a unit, e.g."),
        ("1,0", "--sizes: '0' is less than 1 byte"),
        ("1.3B", "--sizes: '1.3B' is not a whole number of bytes"),
        ("", "--sizes: '' is not a size"),
    ],
)
def test_bad_sizes_exit_2(capsys: pytest.CaptureFixture[str], sizes: str, message: str) -> None:
    status, out, err = run(capsys, "tests.zoo:MemoryWriter", "--sizes", sizes)
    assert (status, out) == (2, "")
    assert message in err


BLOCK_HYPOTHESIS = "import sys; sys.modules['hypothesis'] = None; "


def test_send_works_without_hypothesis(tmp_path: Path) -> None:
    source = tmp_path / "data.bin"
    source.write_bytes(b"x" * 100)
    code = (
        BLOCK_HYPOTHESIS + "from uploadwriter._cli import main; "
        f"sys.exit(main(['send', '-q', '--writer', 'echo', {str(source)!r}]))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == '{"level": "info"}'


def test_check_without_hypothesis_says_what_to_install() -> None:
    code = BLOCK_HYPOTHESIS + "from uploadwriter._cli import main; sys.exit(main(['check', 'x:y']))"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    assert result.returncode == 2
    assert "pip install 'uploadwriter[testing]'" in result.stderr


def _async_writer() -> object:
    from tests.zoo import AsyncMemoryWriter

    return AsyncMemoryWriter()


ASYNC_WRITER = _async_writer()
