"""Every code example of the README and the docs pages runs (or type-checks) as written.

The conventions (``docs/about.md`` says them to writers of pages):

- a ```` ```python ```` block is executed; the blocks of one page run in
  order, in one namespace, with a fresh temporary directory as the working
  directory and as :mod:`tempfile`'s directory;
- a block after the line ``<!-- not run: <why> -->`` is only compiled;
- a block after ``<!-- mypy -->`` is a complete module, checked by mypy
  strict (the project's ``mypy.ini``) and not run; a line
  ``reveal_type(x)  # T`` in it must reveal ``T``;
- a ```` ```text ```` block after ``<!-- output -->`` is what the python
  block before it prints (stdout and stderr, as a terminal shows them);
  ``…`` in it stands for any text within a line;
- other blocks (``console``, ``text``, ``json``...) are not run; every
  block names its language; MyST directives (```` ```{toctree} ````...) are
  not code.

The README's python blocks are also checked by mypy strict: its example is the
first code a user copies.
"""

from __future__ import annotations

import contextlib
import difflib
import io
import logging
import re
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import attrs
import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
README = ROOT / "README.md"

MARKER = re.compile(r"^\s*<!--\s*(.*?)\s*-->\s*$")
FENCE = re.compile(r"^(?P<indent>\s*)(?P<fence>`{3,}|~{3,})\s*(?P<info>[^`]*?)\s*$")
# Directives whose content is Markdown (so may hold code blocks); any other
# directive's content (toctree, eval-rst, argparse...) is not Markdown.
MARKDOWN_DIRECTIVES = {
    "admonition",
    "attention",
    "caution",
    "danger",
    "error",
    "hint",
    "important",
    "note",
    "seealso",
    "tip",
    "topic",
    "warning",
}
# Languages that are Python but would escape the harness under another name.
PYTHON_ALIASES = {"py", "python3", "py3", "pycon", "ipython", "ipython3"}


@attrs.frozen
class Block:
    """One fenced code block of a page."""

    page: Path
    line: int  # of the first line of code, 1-based
    language: str
    code: str
    marker: str | None  # the <!-- ... --> comment right before the fence

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"

    @property
    def kind(self) -> str:
        """run, compile, mypy, output, or other."""
        if self.language == "python":
            if self.marker == "mypy":
                return "mypy"
            if self.marker is not None and self.marker.startswith("not run"):
                return "compile"
            return "run"
        if self.marker == "output":
            return "output"
        return "other"


def parse(page: Path) -> list[Block]:
    """The code blocks of a MyST Markdown page, in order."""
    lines = page.read_text(encoding="utf-8").splitlines()
    blocks: list[Block] = []
    containers: list[str] = []  # fences of the Markdown directives we are inside
    marker: str | None = None
    index = 0
    while index < len(lines):
        line = lines[index]
        index += 1
        if containers and line.strip() == containers[-1]:
            containers.pop()
            continue
        fence = FENCE.match(line)
        if fence is None:
            comment = MARKER.match(line)
            if comment is not None:
                marker = comment.group(1)
            elif line.strip():
                marker = None
            continue
        info, indent, ticks = fence["info"], fence["indent"], fence["fence"]
        if info.startswith("{") and info.partition("}")[0][1:] in MARKDOWN_DIRECTIVES:
            containers.append(ticks)
            marker = None
            continue
        start = index
        while index < len(lines) and not re.fullmatch(
            rf"\s*{re.escape(ticks[0])}{{{len(ticks)},}}\s*", lines[index]
        ):
            index += 1
        body = [text.removeprefix(indent) for text in lines[start:index]]
        index += 1  # the closing fence
        language = info.split()[0] if info else ""
        if not language.startswith("{") or language.startswith(("{code", "{sourcecode")):
            blocks.append(Block(page, start + 1, language, "\n".join(body) + "\n", marker))
        marker = None
    return blocks


def pages() -> list[Path]:
    return [README, *sorted(DOCS.rglob("*.md"))]


ALL_BLOCKS = [block for page in pages() for block in parse(page)]


def page_id(page: Path) -> str:
    return str(page.relative_to(ROOT))


# --- the conventions themselves ---------------------------------------------------


def test_the_harness_finds_the_pages_and_their_code() -> None:
    assert README in pages()
    assert DOCS / "index.md" in pages()
    assert {"run", "mypy", "output", "other"} <= {block.kind for block in ALL_BLOCKS}


SAMPLE = """\
# A page

```python
print("run")
```

<!-- output -->
```text
run
```

<!-- not run: needs a server -->
```python
serve()
```

<!-- mypy -->
```python
x: int = 1
```

- In a list item:

  ```python
  y = 2
  ```

````{note}
Inside a Markdown directive:

```python
z = 3
```
````

```{toctree}
:maxdepth: 1

not-code
```

```{eval-rst}
.. code-block:: python

   not_seen = True
```

<!-- a comment that is not a marker -->

Some text between.

```console
$ uploadwriter --version
```
"""


def test_the_parser_reads_every_kind_of_block(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(SAMPLE, encoding="utf-8")
    found = [(block.line, block.language, block.kind, block.code) for block in parse(page)]
    assert found == [
        (4, "python", "run", 'print("run")\n'),
        (9, "text", "output", "run\n"),
        (14, "python", "compile", "serve()\n"),
        (19, "python", "mypy", "x: int = 1\n"),
        (25, "python", "run", "y = 2\n"),
        (32, "python", "run", "z = 3\n"),
        (53, "console", "other", "$ uploadwriter --version\n"),
    ]


@pytest.mark.parametrize(
    ("language", "marker", "complaint"),
    [
        ("", None, "without a language"),
        ("py", None, "write ```python"),
        ("{code-block}", None, "rather than a {code-block} directive"),
        ("python", "not run", "write <!-- not run: why -->"),
        ("python", "not run:", "say why the block is not run"),
        ("text", "not run: why", "only python blocks"),
        ("text", "mypy", "<!-- mypy --> is for python blocks"),
        ("python", "run", "unknown marker <!-- run -->"),
    ],
)
def test_a_block_against_the_conventions_fails(
    language: str, marker: str | None, complaint: str
) -> None:
    block = Block(README, 1, language, "x = 1\n", marker)
    with pytest.raises((AssertionError, pytest.fail.Exception), match=re.escape(complaint)):
        test_every_block_follows_the_conventions(block)


def test_output_patterns() -> None:
    assert expected_output("{'path': '/tmp/upload-…'}\n").fullmatch("{'path': '/tmp/upload-x1'}\n")
    assert not expected_output("a…\n").fullmatch("a\nb\n")  # … stays within its line
    assert not expected_output("1.5\n").fullmatch("105\n")  # the rest is literal


@pytest.mark.parametrize("block", ALL_BLOCKS, ids=lambda block: block.where)
def test_every_block_follows_the_conventions(block: Block) -> None:
    assert block.language, (
        f"{block.where}: a code block without a language; name it (python, console, "
        "text, json...) so that readers and this harness know what it is"
    )
    assert block.language not in PYTHON_ALIASES, (
        f"{block.where}: write ```python, not ```{block.language}: python blocks are run"
    )
    assert not block.language.startswith("{"), (
        f"{block.where}: write ```python rather than a {block.language} directive, "
        "so that the code is run by the tests"
    )
    if block.marker is None:
        return
    if block.marker.startswith("not run"):
        why = block.marker.removeprefix("not run:").strip()
        assert block.marker.startswith("not run:"), f"{block.where}: write <!-- not run: why -->"
        assert why, f"{block.where}: say why the block is not run: <!-- not run: needs a server -->"
        assert block.language == "python", f"{block.where}: only python blocks are run at all"
    elif block.marker == "mypy":
        assert block.language == "python", f"{block.where}: <!-- mypy --> is for python blocks"
    elif block.marker == "output":
        assert block.language == "text", f"{block.where}: <!-- output --> is for text blocks"
        assert previous_code(block).kind == "run", (
            f"{block.where}: <!-- output --> must follow a python block that runs"
        )
    else:
        pytest.fail(
            f"{block.where}: unknown marker <!-- {block.marker} -->; the markers are "
            "<!-- not run: why -->, <!-- mypy --> and <!-- output --> (blocks run by default)"
        )


def previous_code(block: Block) -> Block:
    same_page = [other for other in ALL_BLOCKS if other.page == block.page]
    index = same_page.index(block)
    assert index > 0, f"{block.where}: <!-- output --> with no block before it"
    return same_page[index - 1]


# --- running the pages -------------------------------------------------------------


def expected_output(shown: str) -> re.Pattern[str]:
    """A pattern for output shown in the docs: ``…`` is any text within a line."""
    return re.compile(
        "".join(".*?" if part == "…" else re.escape(part) for part in re.split("(…)", shown))
    )


@contextlib.contextmanager
def fresh_process_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """What a page starts from: a new working and temp directory, logging not configured."""
    cwd, tmp = tmp_path / "cwd", tmp_path / "tmp"
    cwd.mkdir()
    tmp.mkdir()
    monkeypatch.chdir(cwd)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    root.handlers.clear()  # so that the page's logging.basicConfig() takes effect
    try:
        yield
    finally:
        for handler in root.handlers:
            handler.close()
        root.handlers[:] = handlers
        root.setLevel(level)


def run_page(page: Path) -> dict[str, object]:
    """Run the page's python blocks in order in one namespace; check shown output."""
    blocks = [block for block in ALL_BLOCKS if block.page == page]
    namespace: dict[str, object] = {"__name__": "__main__"}
    # One stream for the page's stdout and stderr, as a terminal: a logging
    # handler made by one block writes to it in the next blocks too.
    terminal = io.StringIO()
    printed: str | None = None
    for block in blocks:
        # Line numbers in tracebacks are those of the page.
        source = "\n" * (block.line - 1) + block.code
        if block.kind == "compile":
            compile(source, str(block.page), "exec")
        elif block.kind == "run":
            start = terminal.tell()
            with contextlib.redirect_stdout(terminal), contextlib.redirect_stderr(terminal):
                exec(compile(source, str(block.page), "exec"), namespace)
            printed = terminal.getvalue()[start:]
            sys.stdout.write(printed)  # shown by pytest if something fails later
        elif block.kind == "output":
            assert printed is not None
            if not expected_output(block.code).fullmatch(printed):
                diff = difflib.unified_diff(
                    block.code.splitlines(keepends=True),
                    printed.splitlines(keepends=True),
                    "shown",
                    "printed",
                )
                pytest.fail(
                    f"{block.where}: the block before prints something else:\n" + "".join(diff),
                    pytrace=False,
                )
    return namespace


# Checks a page's examples must also pass, once the page has run: what their
# old README tests asserted, kept.
def uploads_page(namespace: dict[str, object], tmp: Path) -> None:
    code = "".join(b.code for b in ALL_BLOCKS if b.page == DOCS / "howto" / "uploads.md")
    for step in ("UploadConfig(", ".select(", ".upload(", "Chunk(", "consume_uploaded_entr"):
        assert step in code
    # Only the directory the example moved its file to is left; no temp file.
    (keep,) = tmp.iterdir()
    assert [path.suffix for path in keep.iterdir()] == [".jpg"]


def your_writer_page(namespace: dict[str, object], tmp: Path) -> None:
    # The state machine built on the page is a TestCase pytest would collect.
    assert "TestSha256Writer" in namespace


AFTER_PAGE: dict[Path, Callable[[dict[str, object], Path], None]] = {
    DOCS / "howto" / "uploads.md": uploads_page,
    DOCS / "howto" / "test-your-writer.md": your_writer_page,
}

RUN_PAGES = sorted(
    {block.page for block in ALL_BLOCKS if block.kind in ("run", "compile")}, key=page_id
)


@pytest.mark.parametrize("page", RUN_PAGES, ids=page_id)
def test_the_python_blocks_of_the_page_run(
    page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with fresh_process_state(tmp_path, monkeypatch):
        namespace = run_page(page)
    if page in AFTER_PAGE:
        AFTER_PAGE[page](namespace, tmp_path / "tmp")


def test_every_page_with_checks_exists() -> None:
    for page in AFTER_PAGE:
        assert page in RUN_PAGES, page


LINK = re.compile(r"\]\((?P<target>[^)#\s]+)(?:#[^)]*)?\)")


def test_the_readme_links_to_files_that_exist() -> None:
    # The docs build checks the links of the pages; the README is not in it.
    targets = [m["target"] for m in LINK.finditer(README.read_text(encoding="utf-8"))]
    local = [target for target in targets if "://" not in target]
    assert local
    for target in local:
        assert (ROOT / target).exists(), f"README.md links to {target}, which does not exist"


# --- type-checked blocks -------------------------------------------------------------

MYPY_BLOCKS = [
    block
    for block in ALL_BLOCKS
    if block.kind == "mypy" or (block.page == README and block.kind == "run")
]
REVEAL = re.compile(r"^.*\breveal_type\(.*\)\s*#\s*(?P<type>.+?)\s*$")


def module_name(block: Block) -> str:
    slug = re.sub(r"\W+", "_", str(block.page.relative_to(ROOT)).removesuffix(".md"))
    return f"docs_{slug}_{block.line}"


@pytest.fixture(scope="module")
def mypy_messages(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[str]]:
    """mypy's messages for every type-checked block, by module name: one mypy run."""
    from mypy import api

    directory = tmp_path_factory.mktemp("mypy_blocks")
    files = []
    for block in MYPY_BLOCKS:
        path = directory / f"{module_name(block)}.py"
        path.write_text(block.code, encoding="utf-8")
        files.append(str(path))
    out, err, status = api.run(
        [
            "--config-file",
            str(ROOT / "mypy.ini"),
            "--cache-dir",
            str(ROOT / ".mypy_cache"),
            "--no-error-summary",
            "--show-error-codes",
            *files,
        ]
    )
    assert status in (0, 1), err
    messages: dict[str, list[str]] = {module_name(block): [] for block in MYPY_BLOCKS}
    for line in out.splitlines():
        filename, _, message = line.partition(":")
        messages.setdefault(Path(filename).stem, []).append(message)
    return messages


def short_type(revealed: str) -> str:
    """``uploadwriter._sync.Uploader[builtins.int]`` -> ``Uploader[int]``."""
    return re.sub(r"\b(?:[A-Za-z_]\w*\.)+(?=[A-Za-z_])", "", revealed).replace("?", "")


@pytest.mark.parametrize("block", MYPY_BLOCKS, ids=lambda block: block.where)
def test_the_block_passes_mypy_strict(block: Block, mypy_messages: dict[str, list[str]]) -> None:
    messages = mypy_messages[module_name(block)]
    errors = [message for message in messages if ": error:" in message]
    assert not errors, f"{block.where}: mypy strict rejects the block:\n" + "\n".join(errors)
    revealed = {
        int(message.split(":")[0]): short_type(message.split('Revealed type is "', 1)[1][:-1])
        for message in messages
        if "Revealed type is" in message
    }
    for number, line in enumerate(block.code.splitlines(), start=1):
        claim = REVEAL.match(line)
        if claim is not None:
            assert revealed.get(number) == claim["type"], (
                f"{block.page.relative_to(ROOT)}:{block.line + number - 1}: the comment says "
                f"{claim['type']}, mypy reveals {revealed.get(number)}"
            )
