"""The project folder model (qnn.project): defaults, round trip, bad files."""

import json

from qnn.project import PROJECT_FILE, Project, open_project, save_project, step_bits


def test_new_folder_gets_defaults(tmp_path):
    opened = open_project(tmp_path / "p")
    assert opened.created and opened.warning is None
    assert opened.project == Project()
    assert (tmp_path / "p" / PROJECT_FILE).is_file()
    cfg = opened.project.train_config()
    assert cfg.spec(6, 6).sizes == (6, 16, 16, 6)


def test_round_trip(tmp_path):
    p = Project(n=1234, seed=7, w_bits=[8, 4, 6], a_bits=[5, 8], variant="unrolled",
                sim_params={"noise_sigma_counts": 2.0}, epochs=[3, 2, 1], lr=0.01)
    save_project(tmp_path, p)
    again = open_project(tmp_path)
    assert again.warning is None and again.project == p


def test_old_variant_names_are_mapped(tmp_path):
    """Projects saved before issue 8 name the variants compact/fast: loop/unrolled now."""
    for old, new in (("compact", "loop"), ("fast", "unrolled")):
        (tmp_path / PROJECT_FILE).write_text(json.dumps({"variant": old}))
        opened = open_project(tmp_path)
        assert opened.warning is None and opened.project.variant == new


def test_partial_file_takes_defaults(tmp_path):
    (tmp_path / PROJECT_FILE).write_text(json.dumps({"n": 500}))
    opened = open_project(tmp_path)
    assert opened.warning is None and opened.project.n == 500
    assert opened.project.hidden == [16, 16]


def test_nonsense_is_kept_as_bad_and_defaults_used(tmp_path):
    for text in ("{not json", json.dumps({"n": "many"}), json.dumps({"w_bits": [8, 9, 8]}),
                 json.dumps({"model": "nope"}), json.dumps([1, 2]), json.dumps({"zzz": 1}),
                 json.dumps({"sim_params": {"noise_sigma_counts": -1}})):
        (tmp_path / PROJECT_FILE).write_text(text)
        opened = open_project(tmp_path)
        assert opened.project == Project(), text
        assert opened.warning and "project.json.bad" in opened.warning
        assert (tmp_path / "project.json.bad").read_text() == text
        assert (tmp_path / PROJECT_FILE).read_text() == text  # not overwritten by opening


def test_step_bits_clamps():
    p = Project()
    assert step_bits(p, "w", 1, -1) and p.w_bits == [8, 7, 8]
    assert not step_bits(p, "w", 0, +1)  # already 8
    assert not step_bits(p, "a", 2, -1)  # the output layer has no activation bits
    for _ in range(10):
        step_bits(p, "a", 0, -1)
    assert p.a_bits == [2, 8]


def test_project_defaults_follow_the_training_defaults():
    """project.py stays JAX-free, so it repeats TrainConfig's numbers; keep them in step."""
    from qnn.config import TrainConfig
    from qnn.project import Project

    d, p = TrainConfig(), Project()
    assert p.epochs == [d.epochs_float, d.epochs_qat, d.epochs_int]
    assert (p.epochs_finetune, p.lr, p.batch_size) == (d.epochs_finetune, d.lr, d.batch_size)
    assert tuple(p.hidden) == d.hidden
