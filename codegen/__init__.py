"""From an integer model to the text of its firmware: the C (cgen.py) and the no_std Rust
(rust.py), both in two variants, from the same numbers (plan.py, unrolled.py)."""
