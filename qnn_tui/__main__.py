"""`qnn-tui [DIR]`: the workbench on a project folder."""

from __future__ import annotations

import argparse
import sys

from qnn.project import default_dir


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="qnn-tui",
        description="Terminal workbench: forward sensor model -> quantization-aware training "
        "-> integer-only C for the Cortex-M0. Press ? inside for the keys.",
        epilog=f"Without DIR, opens the built-in default project (magnet6, 6-16-16-6, 8-bit) "
        f"in {default_dir()} (set QNN_TUI_HOME to move it). DIR/project.json holds the "
        "settings; DIR/dataset.npz, DIR/run/, DIR/build/ the artifacts.",
    )
    parser.add_argument("dir", nargs="?", default=None,
                        help="project folder to open, created if missing")
    args = parser.parse_args(argv)

    from common.errors import QnnError
    from qnn_tui.app import QnnApp

    try:
        app = QnnApp(args.dir or default_dir())
    except QnnError as e:
        print(f"qnn-tui: error: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        print(f"qnn-tui: error: cannot use the project folder: {e}", file=sys.stderr)
        return 2
    app.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
