"""The executed notebooks committed under results/<profile>/executed/, the copies a reader opens: no error output,
no output longer than a screen, and each chapter (01-05) ends with what it saw, written by code, and its references.

Runs of earlier protocols keep their copies deeper (results/earlier/<protocol>/executed/) as they were; scratch
folders are deeper still and git-ignored."""

from __future__ import annotations

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from gmvae.reproduction.notebook_runner import NOTEBOOKS
from gmvae.reproduction.parameters import NOTEBOOK_DIR

RESULTS = NOTEBOOK_DIR.parent / "results"
EXECUTED = sorted(RESULTS.glob("*/executed/*.ipynb"))
CHAPTERS = [p for p in EXECUTED if p.name in NOTEBOOKS and not p.name.startswith("00_")]
MAX_OUTPUT_LINES = 40
WHAT_WE_SAW, REFERENCES = "## What we saw", "## References"


def _ids(paths):
    return [p.relative_to(RESULTS).as_posix() for p in paths]


def output_text(output) -> str:
    """What a reader sees of an output as text: a stream's text, an error's traceback, else its Markdown or plain
    text (a figure's plain text is one line)."""
    if output["output_type"] == "stream":
        return output["text"]
    if output["output_type"] == "error":
        return "\n".join(output["traceback"])
    data = output.get("data", {})
    return data.get("text/markdown") or data.get("text/plain") or ""


def _outputs(nb):
    return [(i, o) for i, cell in enumerate(nb.cells) if cell.cell_type == "code" for o in cell.get("outputs", [])]


def error_outputs(nb) -> list[tuple[int, str]]:
    """(cell, error name) of every error output."""
    return [(i, o.get("ename")) for i, o in _outputs(nb) if o["output_type"] == "error"]


def long_outputs(nb, limit: int = MAX_OUTPUT_LINES) -> list[tuple[int, int]]:
    """(cell, lines) of every output longer than ``limit`` lines."""
    return [(i, n) for i, o in _outputs(nb) if (n := len(output_text(o).splitlines())) > limit]


def _heading_cell(nb, heading: str) -> int | None:
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown" and heading in (line.rstrip() for line in cell.source.splitlines()):
            return i
    return None


def concluded_by_code(nb, heading: str = WHAT_WE_SAW) -> bool:
    """Whether a Markdown cell has ``heading`` as a line and the first code cell after it, before the next heading
    of its level, shows Markdown (an f-string's conclusion, not prose typed in the cell above)."""
    start = _heading_cell(nb, heading)
    if start is None:
        return False
    for cell in nb.cells[start + 1:]:
        if cell.cell_type == "markdown" and any(line.startswith("## ") for line in cell.source.splitlines()):
            return False
        if cell.cell_type == "code":
            return any("text/markdown" in o.get("data", {}) for o in cell.get("outputs", []))
    return False


def test_there_are_executed_copies_to_check():
    assert EXECUTED and CHAPTERS


@pytest.mark.parametrize("path", EXECUTED, ids=_ids(EXECUTED))
def test_an_executed_notebook_has_no_error_output(path):
    assert not error_outputs(nbformat.read(path, as_version=4))


@pytest.mark.parametrize("path", EXECUTED, ids=_ids(EXECUTED))
def test_no_output_of_an_executed_notebook_is_longer_than_40_lines(path):
    assert not long_outputs(nbformat.read(path, as_version=4)), "(cell, lines)"


@pytest.mark.parametrize("path", CHAPTERS, ids=_ids(CHAPTERS))
def test_a_chapter_says_what_it_saw_from_code_and_gives_its_references(path):
    nb = nbformat.read(path, as_version=4)
    assert concluded_by_code(nb), f"no '{WHAT_WE_SAW}' heading followed by a code cell showing Markdown"
    assert _heading_cell(nb, REFERENCES) is not None, f"no '{REFERENCES}' heading"


# ------------------------------------------------------------------ the checks, on notebooks made up here


def _markdown(text):
    return new_output("execute_result", data={"text/markdown": text, "text/plain": "<Markdown>"}, execution_count=1)


def _stream(lines):
    return new_output("stream", name="stdout", text="".join(f"line {i}\n" for i in range(lines)))


def _chapter(*cells):
    return new_notebook(cells=list(cells))


def test_the_checks_find_errors_and_long_outputs_in_any_cell():
    nb = _chapter(new_markdown_cell("# A chapter"), new_code_cell("print()", outputs=[_stream(40)]),
                  new_code_cell("table", outputs=[_markdown("| a |\n" * 41)]),
                  new_code_cell("1 / 0", outputs=[new_output("error", ename="ZeroDivisionError", evalue="",
                                                             traceback=["Traceback", "1 / 0"])]))
    assert error_outputs(nb) == [(3, "ZeroDivisionError")]
    assert long_outputs(nb) == [(2, 41)]


@pytest.mark.parametrize("cells, concluded", [
    ([new_markdown_cell("## What we saw"), new_code_cell("Markdown(f'...')", outputs=[_markdown("M2 ...")])], True),
    ([new_markdown_cell("Text.\n\n## What we saw\n\nFrom the logs:"), new_markdown_cell("More text."),
      new_code_cell("Markdown(f'...')", outputs=[_markdown("M2 ...")])], True),
    ([new_markdown_cell("## What we saw\n\nM2's q(y|x) turns uniform."), new_code_cell("x = 1")], False),
    ([new_markdown_cell("## What we saw"), new_code_cell("print(...)", outputs=[_stream(3)])], False),
    ([new_markdown_cell("## What we saw"), new_markdown_cell("## References"),
      new_code_cell("Markdown(f'...')", outputs=[_markdown("M2 ...")])], False),
    ([new_markdown_cell("### What we saw"), new_code_cell("Markdown(f'...')", outputs=[_markdown("M2 ...")])], False),
    ([new_markdown_cell("## What we saw")], False),
])
def test_what_we_saw_must_be_shown_by_the_code_cell_after_its_heading(cells, concluded):
    assert concluded_by_code(_chapter(*cells)) is concluded
