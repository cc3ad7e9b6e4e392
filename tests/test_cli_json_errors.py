"""`qnn ... --json`: errors are JSON too ({"error", "hint", "command"}) on stdout, with the
exit status of the plain-text error; without --json they stay one line on stderr."""

from __future__ import annotations

import json

import pytest

from cli.main import main, split_hint


@pytest.mark.parametrize("argv", [
    ["eval", "{tmp}/no-run", "--data", "{tmp}/no.npz"],  # a QnnError from the command
    ["eval"],  # a bad command line (argparse)
    ["train", "--data", "{tmp}/no.npz", "--out", "{tmp}/run", "--no-such-flag"],
    ["verify", "{tmp}/no-run"],
])
def test_json_errors(argv, tmp_path, capsys):
    argv = [a.format(tmp=tmp_path) for a in argv]
    with pytest.raises(SystemExit) as plain_exit:
        raise SystemExit(main(argv))
    plain = capsys.readouterr()
    assert plain.out == "" and plain.err.count("error:") == 1
    with pytest.raises(SystemExit) as json_exit:
        raise SystemExit(main([*argv, "--json"]))
    got = capsys.readouterr()
    assert json_exit.value.code == plain_exit.value.code != 0
    assert got.err == ""
    err = json.loads(got.out)
    assert set(err) == {"error", "hint", "command"} and err["command"] == argv[0]
    assert err["error"] and err["hint"]  # the cause and what to do, both said
    assert err["error"] in plain.err and err["hint"].rstrip(".") in plain.err or \
        "usage" in plain.err
    assert not list(tmp_path.iterdir())  # nothing written


def test_split_hint():
    assert split_hint("x.npz: missing; run qnn sim.") == ("x.npz: missing", "run qnn sim.")
    assert split_hint("no remedy here") == ("no remedy here", "")
