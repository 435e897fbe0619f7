"""The Train form's settings are generated from TrainConfig and LoraSettings: every field
has a widget with its help text, and config -> widget values -> config is lossless."""

import dataclasses

import gradio as gr
import pytest

from kd_core.errors import KDError
from kd_core.training.config import LoraSettings, TrainConfig
from ui import train_form


def _fields(cls, prefix=""):
    for f in dataclasses.fields(cls):
        if f.name == "lora":
            yield from _fields(LoraSettings, "lora.")
        else:
            yield prefix + f.name, f


def test_every_config_field_has_help_text():
    missing = [key for key, f in _fields(TrainConfig) if len(f.metadata.get("help", "")) < 15]
    assert missing == []
    assert "T^2" in dict(_fields(TrainConfig))["kd_temperature"].metadata["help"]


def test_every_setting_has_a_widget_of_its_type_with_its_name_and_help():
    with gr.Blocks():
        widgets = train_form.build_settings()
    expected = [key for key, _ in _fields(TrainConfig) if key not in train_form.FILLED_BY_JOB]
    assert list(widgets) == expected == train_form.keys()
    helps = {key: f.metadata["help"] for key, f in _fields(TrainConfig)}
    for key, widget in widgets.items():
        assert widget.label == key and widget.info == helps[key], key
    kinds = {key: type(w).__name__ for key, w in widgets.items()}
    assert kinds["loss"] == kinds["scheduler"] == kinds["report_to"] == "Dropdown"
    assert widgets["report_to"].multiselect and widgets["loss"].choices == [(c, c) for c in ("sft", "kd", "mix")]
    assert kinds["kd_temperature"] == kinds["lora.r"] == kinds["batch_size"] == "Number"
    assert widgets["lora.r"].precision == 0 and widgets["kd_temperature"].precision is None
    assert kinds["system"] == kinds["eval_data"] == kinds["lora.target_modules"] == "Textbox"
    # Every advanced setting is in a group; the basic ones are open.
    grouped = [k for ks in train_form.groups().values() for k in ks]
    assert sorted(grouped + list(train_form.BASIC)) == sorted(expected)
    assert train_form.OTHER not in train_form.groups()


def test_a_config_round_trips_through_the_widget_values():
    cfg = TrainConfig(loss="mix", epochs=2.5, max_steps=40, learning_rate=3e-4, batch_size=8, scheduler="cosine",
                      system="Answer briefly.", kd_temperature=1.0, kd_weight=0.5, sft_weight=2.0, save_steps=0,
                      report_to=["tensorboard", "trackio"], eval_fraction=0.1, eval_steps=5,
                      lora=LoraSettings(r=8, alpha=16, dropout=0.0, target_modules=["q_proj", "v_proj"]))
    values = train_form.config_to_values(cfg)
    assert train_form.values_to_config(values) == cfg
    assert train_form.values_to_config(list(values.values())) == cfg  # as a Gradio handler receives them
    assert train_form.values_to_config(train_form.config_to_values(TrainConfig())) == TrainConfig()
    none = TrainConfig(report_to=["none"], early_stopping_patience=3, eval_data="/data/eval.jsonl")
    assert train_form.values_to_config(train_form.config_to_values(none)) == none


def test_widget_values_as_gradio_gives_them_become_the_yaml_settings():
    values = train_form.config_to_values(TrainConfig())
    values.update({"lora.r": 8.0, "max_steps": 20.0, "system": "", "report_to": []})  # gr.Number: floats; nothing ticked
    changed = train_form.values_to_mapping(values, changed_only=True)
    assert changed == {"max_steps": 20, "report_to": ["none"], "lora": {"r": 8}}
    assert isinstance(changed["max_steps"], int)


def test_a_bad_widget_value_is_refused_with_the_setting_named():
    values = train_form.config_to_values(TrainConfig())
    with pytest.raises(KDError, match=r"train.kd_temperature: must be > 0"):
        train_form.values_to_config({**values, "kd_temperature": 0})
    with pytest.raises(KDError, match=r"train.batch_size: empty"):
        train_form.values_to_config({**values, "batch_size": None})
    with pytest.raises(KDError, match=r"train.lora.r: expected a whole number"):
        train_form.values_to_config({**values, "lora.r": 2.5})
    with pytest.raises(KDError, match=r"train.early_stopping_patience: needs an evaluation split"):
        train_form.values_to_config({**values, "early_stopping_patience": 2})
