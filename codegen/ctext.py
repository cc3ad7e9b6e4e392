"""Small helpers that turn numbers and names into C text (used by the templates)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from typing import Any

from common.errors import QnnError

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
_C_KEYWORDS = frozenset((
    "auto", "break", "case", "char", "const", "continue", "default", "do", "double", "else",
    "enum", "extern", "float", "for", "goto", "if", "inline", "int", "long", "register",
    "restrict", "return", "short", "signed", "sizeof", "static", "struct", "switch", "typedef",
    "union", "unsigned", "void", "volatile", "while", "_Bool", "_Complex", "_Imaginary"))


def c_ident(name: str, what: str = "name") -> str:
    """`name` if it is a valid C identifier (and not a keyword), else QnnError.

    >>> c_ident("qnn")
    'qnn'
    >>> c_ident("1x")
    Traceback (most recent call last):
    ...
    common.errors.QnnError: name '1x' is not a C identifier; use letters, digits and _.
    """
    if not (name.isascii() and name.isidentifier()) or name in _C_KEYWORDS:
        raise QnnError(f"{what} {name!r} is not a C identifier; use letters, digits and _.")
    return name


def c_int(v: int) -> str:
    """An int32 literal; INT32_MIN has no literal of its own in C.

    >>> c_int(-5), c_int(-2**31)
    ('-5', '(-2147483647 - 1)')
    """
    v = int(v)
    if not INT32_MIN <= v <= INT32_MAX:
        raise ValueError(f"{v} does not fit int32")
    return "(-2147483647 - 1)" if v == INT32_MIN else str(v)


def c_type(lo: int, hi: int) -> str:
    """The smallest C integer type holding [lo, hi].

    >>> c_type(0, 255), c_type(-8, 7), c_type(0, 4095), c_type(-70000, 0)
    ('uint8_t', 'int8_t', 'uint16_t', 'int32_t')
    """
    for t, a, b in (("uint8_t", 0, 255), ("int8_t", -128, 127), ("uint16_t", 0, 65535),
                    ("int16_t", -32768, 32767), ("int32_t", INT32_MIN, INT32_MAX)):
        if a <= lo and hi <= b:
            return t
    raise ValueError(f"[{lo}, {hi}] does not fit int32")


def c_array(name: str, ctype: str, values: Iterable[int], per_line: int = 16,
            comment: str = "") -> str:
    """A `static const` C array, values right-aligned in rows of `per_line`.

    >>> print(c_array("layer1_shift", "uint8_t", [18, 17, 9], per_line=2))
    static const uint8_t layer1_shift[3] = {
        18, 17,
         9,
    };
    """
    vals = [c_int(v) for v in values]
    width = max((len(v) for v in vals), default=1)
    rows = ["    " + ", ".join(v.rjust(width) for v in vals[k:k + per_line]) + ","
            for k in range(0, len(vals), per_line)]
    head = f"/* {comment} */\n" if comment else ""
    return head + f"static const {ctype} {name}[{len(vals)}] = {{\n" + "\n".join(rows) + "\n};"


def short_hash(obj: Any, n: int = 12) -> str:
    """A short, stable hash of a JSON-able object (the model, for the banner).

    >>> short_hash({"a": 1}) == short_hash({"a": 1}) != short_hash({"a": 2})
    True
    """
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:n]
