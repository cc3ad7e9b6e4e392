"""qnn-tui: the Textual workbench, a thin layer over the headless core (sim, qnn, codegen).

Modules: `app` (the App: tabs, keys, autosave), one module per pane (`sim_pane`, `train_pane`,
`quant_pane`, `code_pane`), `messages` (what workers post), `workers` (the long work, in
threads), `session` (Textual-free state of an open project), `core` (Textual-free work
functions, imported lazily because they pull in JAX), `figures` (Textual-free tables/plots).
"""
