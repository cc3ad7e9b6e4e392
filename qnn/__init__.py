"""qnn: the headless core of qnn-tui (training, integer model, CLI). Never imports Textual."""

__version__ = "0.1.0"
