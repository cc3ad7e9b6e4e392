"""The README's headless pipeline, run exactly as written (with small --n), so the front page
cannot rot."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from cli.main import main

README = Path(__file__).resolve().parents[1] / "README.md"


def _pipeline_commands() -> list[list[str]]:
    text = README.read_text()
    section = text[text.index("## The headless pipeline"):]
    block = section[section.index("```") + 3:]
    block = block[block.index("\n") + 1: block.index("```")]
    commands = []
    for line in block.splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            commands.append(shlex.split(line))
    return commands


def test_the_readme_pipeline_names_real_commands():
    commands = _pipeline_commands()
    assert [c[0] for c in commands] == ["qnn"] * len(commands)
    assert {"sim", "train", "eval", "export", "build", "verify"} <= {c[1] for c in commands}


@pytest.mark.slow
def test_the_readme_pipeline_runs_as_written(tmp_path, monkeypatch, capsys, arm_toolchain,
                                             rust_toolchain):
    monkeypatch.chdir(tmp_path)
    for argv in _pipeline_commands():
        argv = argv[1:]
        if argv[0] == "sim":  # the one change: small datasets
            argv[argv.index("--n") + 1] = "3000" if "train.npz" in argv else "600"
        code = main(argv)
        out = capsys.readouterr()
        assert code == 0, f"`qnn {shlex.join(argv)}` exited {code}: {out.err.strip()}"
        if "--json" in argv:
            assert re.match(r"\s*\{", out.out)
    assert (tmp_path / "runs" / "magnet" / "int_model.json").is_file()
