"""Lineage recorded while training: the transformers and Keras callbacks, and the service.

Tiny models are built and trained in the test on the CPU (a one-layer GPT-2 for a few
steps with the real ``Trainer``, a LoRA on it with ``peft``, a Keras ``Sequential``); the
registry is a copy of the real sample store, on SQLite and PostgreSQL, where the base
``openai-community/gpt2`` is a real Hub model of the genealogy.
"""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "torch")  # before anything imports keras

import importlib
import json
import math
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import filiation
from filiation.cli import app
from filiation.errors import MissingExtraError, PermissionDeniedError
from filiation.registry.service import Registry
from filiation.training import STEPS, TrainingRecorder, TrainingRecordWarning

GPT2 = "openai-community/gpt2"
DATASET = "tiny_stories_test"
PASSWORD = "a long enough password"


@pytest.fixture()
def g(staffed: filiation.Genealogy) -> filiation.Genealogy:
    return staffed


def tiny_gpt2() -> Any:
    from transformers import GPT2Config, GPT2LMHeadModel

    config = GPT2Config(vocab_size=64, n_positions=16, n_embd=16, n_layer=1, n_head=2)
    return GPT2LMHeadModel(config)


def rows(n: int, name: str | None = DATASET) -> Any:
    """A few rows of token ids as a ``datasets.Dataset`` that knows its name."""
    from datasets import Dataset, DatasetInfo

    ids = [[(i * 7 + j) % 64 for j in range(8)] for i in range(n)]
    info = DatasetInfo(dataset_name=name) if name else None
    return Dataset.from_dict({"input_ids": ids, "labels": ids}, info=info)


def trainer_for(model: Any, out: Path, callback: Any, *, checkpoints: bool = True) -> Any:
    from transformers import Trainer, TrainingArguments

    args = TrainingArguments(
        output_dir=str(out),
        max_steps=3,
        per_device_train_batch_size=2,
        learning_rate=5e-4,
        weight_decay=0.01,
        seed=7,
        save_strategy="steps" if checkpoints else "no",
        save_steps=2,
        logging_steps=1,
        report_to="none",
        use_cpu=True,
        disable_tqdm=True,
    )
    return Trainer(
        model=model,
        args=args,
        train_dataset=rows(6),
        eval_dataset=rows(4),
        callbacks=[callback],
    )


# -- the service ------------------------------------------------------------------------------
def test_record_training_links_the_base_and_keeps_every_run(g: filiation.Genealogy) -> None:
    reg: Registry = g.registry
    edith = reg.user("edith")
    run = reg.record_training(
        "Support bot",
        framework="transformers",
        actor=edith,
        base_model=GPT2.upper(),  # any case: the Hub id as published is registered
        datasets=["internal/tickets-2026", "not an id"],
        hyper_parameters={"learning_rate": 2e-5, "optim": Path("adamw")},
        metrics={"eval_loss": 1.5},
        steps=[{"step": "training", "at": "2026-11-22T10:00:00", "details": {"epochs": 1}}],
        output_dir="/models/support-bot",
    )
    model = reg.model("support bot")
    assert (model.derived_from, model.derived_relation) == (GPT2, "finetune")
    assert (model.derived_provenance, model.derived_evidence) == ("declared", "training callback")
    assert reg.model(GPT2).hub_id == GPT2
    # The registry's data sets are ids; the run keeps every name it was given.
    assert model.training_datasets == ["internal/tickets-2026"]
    assert run.datasets == ["internal/tickets-2026", "not an id"]
    assert run.hyper_parameters == {"learning_rate": 2e-5, "optim": "adamw"}
    assert [s.step for s in run.steps] == ["training"] and run.user == "edith"
    # The same run updated, then a second run: both kept, each change in the history.
    again = reg.record_training(
        "Support bot",
        framework="transformers",
        actor=edith,
        base_model=GPT2,
        metrics={"eval_loss": 1.2},
        run=run.id,
    )
    assert again.id == run.id and again.metrics == {"eval_loss": 1.2}
    second = reg.record_training(
        "support bot", framework="transformers", actor=edith, base_model="/tmp/x/my-base"
    )
    assert [r.id for r in reg.training_runs("Support bot")] == [run.id, second.id]
    # A base that is not on the Hub is registered by its folder's name.
    assert reg.model("Support bot").derived_from == "my-base"
    trains = [h for h in reg.history("model", model.id) if h.action == "train"]
    assert len(trains) == 3 and trains[1].before["metrics"] == {"eval_loss": 1.5}
    with pytest.raises(PermissionDeniedError):
        reg.record_training("Other", framework="keras", actor=reg.user("victor"))


def test_cli_lists_the_runs(g: filiation.Genealogy, reg_db: Any) -> None:
    g.registry.record_training(
        "Support bot",
        framework="keras",
        actor=g.registry.user("edith"),
        hyper_parameters={"epochs": 3},
        metrics={"eval_loss": 0.25},
    )
    cli = CliRunner()
    r = cli.invoke(app, ["--db", str(reg_db), "registry", "runs", "support bot"])
    assert r.exit_code == 0, r.output
    assert "keras" in r.stdout and "eval_loss" in r.stdout and "0.25" in r.stdout
    r = cli.invoke(app, ["--db", str(reg_db), "registry", "runs", "support bot", "--json"])
    (run,) = json.loads(r.stdout)
    assert run["metrics"] == {"eval_loss": 0.25} and run["hyper_parameters"] == {"epochs": 3}


# -- transformers -----------------------------------------------------------------------------
def test_transformers_trainer_run_is_recorded(g: filiation.Genealogy, tmp_path: Path) -> None:
    from filiation.training import TransformersCallback

    model = tiny_gpt2()
    model.config._name_or_path = GPT2  # as from_pretrained(GPT2) leaves it
    callback = TransformersCallback(db=g, user="edith")
    trainer = trainer_for(model, tmp_path / "gpt2-support", callback)
    trainer.train()
    evaluation = trainer.evaluate()
    trainer.predict(rows(2))
    trainer.save_model()

    reg = g.registry
    m = reg.model("gpt2-support")
    assert (m.derived_from, m.derived_relation, m.derived_provenance) == (
        GPT2,
        "finetune",
        "declared",
    )
    assert m.training_datasets == [DATASET]
    # One run: written at the checkpoint, then updated when training ended and after the
    # evaluation and the prediction.
    (run,) = reg.training_runs(m.id)
    assert callback.failures == 0 and run.framework == "transformers"
    assert run.base_model == GPT2 and run.datasets == [DATASET]
    hp = run.hyper_parameters
    assert (hp["learning_rate"], hp["per_device_train_batch_size"], hp["seed"]) == (5e-4, 2, 7)
    # max_steps overrode num_train_epochs: only the one in effect is recorded, and the
    # epochs and steps actually run come from the trainer's state.
    assert hp["max_steps"] == 3 and hp["weight_decay"] == 0.01 and "num_train_epochs" not in hp
    assert run.metrics["steps"] == trainer.state.global_step == 3
    assert run.metrics["epochs"] == pytest.approx(trainer.state.epoch)
    assert run.metrics["epochs"] == pytest.approx(3 / math.ceil(6 / 2))  # 3 steps of 3 a epoch
    # A causal language model fine-tuned from its base: supervised fine-tuning.
    assert m.learning_type == "supervised"
    assert hp["optim"].startswith("adamw")
    assert run.metrics["eval_loss"] == pytest.approx(evaluation["eval_loss"])
    assert "train_loss" in run.metrics
    assert {s.step for s in run.steps} == set(STEPS)
    training = next(s for s in run.steps if s.step == "training")
    assert training.details["global_step"] == 3
    prep = next(s for s in run.steps if s.step == "data_preparation")
    assert prep.details["rows"] == 6
    assert run.output_dir == str(tmp_path / "gpt2-support")
    assert {h.user for h in reg.history("model", m.id) if h.action == "train"} == {"edith"}
    # Its ancestry goes on into the public genealogy.
    assert [a.id for a in reg.ancestry(m.id).ancestors][:2] == ["gpt2-support", GPT2]


def test_peft_lora_run_is_an_adapter(g: filiation.Genealogy, tmp_path: Path) -> None:
    from peft import LoraConfig, get_peft_model

    from filiation.training import TransformersCallback

    base = tiny_gpt2()
    base.name_or_path = GPT2
    model = get_peft_model(base, LoraConfig(r=2, target_modules=["c_attn"], fan_in_fan_out=True))
    callback = TransformersCallback(
        model_name="gpt2-lora", datasets=["internal/faq"], db=g, user="edith"
    )
    # No checkpoint (peft's save would look the base up on the Hub): recorded at the end.
    trainer_for(model, tmp_path / "lora-out", callback, checkpoints=False).train()
    m = g.registry.model("gpt2-lora")
    assert (m.derived_from, m.derived_relation) == (GPT2, "adapter")
    (run,) = g.registry.training_runs("gpt2-lora")
    assert run.datasets == ["internal/faq", DATASET]
    assert next(s for s in run.steps if s.step == "building").details["adapter"] is True
    assert m.learning_type == "supervised"  # the head under the peft wrapper says so


def test_learning_type_from_the_head_and_the_base(g: filiation.Genealogy, tmp_path: Path) -> None:
    """From scratch, a causal language model is pretrained on raw text (unsupervised in the
    registry's vocabulary); a classification head learns labels (supervised), base or not;
    a type a person chose is kept."""
    from datasets import Dataset
    from transformers import GPT2Config, GPT2ForSequenceClassification

    from filiation.training import TransformersCallback

    scratch = tiny_gpt2()  # no _name_or_path: not loaded from any base
    callback = TransformersCallback(model_name="gpt2-scratch", db=g, user="edith")
    trainer_for(scratch, tmp_path / "scratch", callback, checkpoints=False).train()
    assert g.registry.model("gpt2-scratch").learning_type == "unsupervised"

    config = GPT2Config(
        vocab_size=64, n_positions=16, n_embd=16, n_layer=1, n_head=2, num_labels=2, pad_token_id=0
    )
    classifier = GPT2ForSequenceClassification(config)
    labelled = Dataset.from_dict(
        {"input_ids": [[(i + j) % 64 for j in range(8)] for i in range(6)], "labels": [0, 1] * 3}
    )
    callback = TransformersCallback(model_name="gpt2-labels", db=g, user="edith")
    trainer = trainer_for(classifier, tmp_path / "labels", callback, checkpoints=False)
    trainer.train_dataset = labelled
    trainer.train()
    assert g.registry.model("gpt2-labels").learning_type == "supervised"

    admin = g.registry.actor("edith")
    g.registry.update_model("gpt2-scratch", {"learning_type": "semi-supervised"}, actor=admin)
    callback = TransformersCallback(model_name="gpt2-scratch", db=g, user="edith")
    trainer_for(tiny_gpt2(), tmp_path / "scratch", callback, checkpoints=False).train()
    assert g.registry.model("gpt2-scratch").learning_type == "semi-supervised"


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ("DPOConfig", "reinforcement"),
        ("RewardConfig", "reinforcement"),
        ("GRPOConfig", "reinforcement"),
        ("SFTConfig", "supervised"),
        ("TrainingArguments", "supervised"),
    ],
)
def test_preference_trainers_are_reinforcement(config: str, expected: str) -> None:
    """trl's trainers are told apart by their configuration class (trl is not a dependency:
    its class names are the evidence the callback reads)."""
    from filiation.training.learning import from_transformers

    got = from_transformers(["GPT2LMHeadModel"], config, from_base=True)
    assert got is not None and got.value == expected
    assert from_transformers(["SomeCustomModule"], "TrainingArguments", from_base=True) is None


def test_a_failure_to_record_never_stops_training(g: filiation.Genealogy, tmp_path: Path) -> None:
    from filiation.training import TransformersCallback

    callback = TransformersCallback(base_model=GPT2, db=g, user="victor")  # a viewer
    trainer = trainer_for(tiny_gpt2(), tmp_path / "not-recorded", callback)
    with pytest.warns(TrainingRecordWarning, match="editor role"):
        result = trainer.train()
    trainer.save_model()
    assert result.global_step == 3 and (tmp_path / "not-recorded" / "config.json").exists()
    assert callback.failures >= 1
    assert "not-recorded" not in [m.name for m in g.registry.models()]


# -- Keras ------------------------------------------------------------------------------------
def test_keras_fit_evaluate_predict_is_one_run_with_six_steps(
    g: filiation.Genealogy, tmp_path: Path
) -> None:
    import keras
    import numpy as np

    from filiation.training import KerasCallback

    keras.utils.set_random_seed(3)
    x = np.random.default_rng(3).random((24, 4)).astype("float32")
    y = x.sum(axis=1, keepdims=True)
    model = keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(1)],
        name="sum-scorer",
    )
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.01), loss="mse", metrics=["mae"])
    callback = KerasCallback(
        base_model="local/base-scorer", datasets=["internal/sums"], batch_size=8, db=g, user="edith"
    )
    model.fit(x, y, epochs=2, batch_size=8, validation_split=0.25, verbose=0, callbacks=[callback])
    loss, mae = model.evaluate(x, y, verbose=0, callbacks=[callback])
    model.predict(x, verbose=0, callbacks=[callback])
    model.save(tmp_path / "sum-scorer.keras")

    reg = g.registry
    m = reg.model("sum-scorer")
    assert (m.derived_from, m.derived_relation) == ("local/base-scorer", "finetune")
    assert m.training_datasets == ["internal/sums"]
    (run,) = reg.training_runs("sum-scorer")
    assert callback.failures == 0 and run.framework == "keras"
    hp = run.hyper_parameters
    assert (hp["optimizer"], hp["loss"], hp["epochs"], hp["batch_size"]) == ("Adam", "mse", 2, 8)
    assert hp["learning_rate"] == pytest.approx(0.01)
    assert run.metrics["eval_loss"] == pytest.approx(loss)
    assert run.metrics["eval_mae"] == pytest.approx(mae)
    assert "val_loss" in run.metrics and "train_loss" in run.metrics
    assert [s.step for s in run.steps] == list(STEPS)
    compiling = next(s for s in run.steps if s.step == "compiling")
    assert compiling.details["metrics"] == ["mae"]
    training = next(s for s in run.steps if s.step == "training")
    assert training.details["epochs"] == 2 and len(training.details["history"]["loss"]) == 2
    # Epochs and optimizer steps actually run: 18 training rows (a quarter for validation)
    # in batches of 8 is 3 steps an epoch.
    assert run.metrics["epochs"] == 2 and run.metrics["steps"] == 2 * math.ceil(18 / 8)
    assert m.learning_type == "supervised"  # mse compares outputs with given targets
    # Trained again with the same callback: a second run, the first one kept as it was.
    model.fit(x, y, epochs=1, batch_size=8, verbose=0, callbacks=[callback])
    first, second = reg.training_runs("sum-scorer")
    assert first == run and second.hyper_parameters["epochs"] == 1
    assert second.metrics["steps"] == math.ceil(24 / 8)  # this run's steps, not the total
    assert [s.step for s in second.steps] == [
        "data_preparation",
        "building",
        "compiling",
        "training",
    ]


# -- without the extra ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "module"), [("TransformersCallback", "transformers"), ("KerasCallback", "keras")]
)
def test_a_missing_framework_says_which_extra_to_install(
    monkeypatch: pytest.MonkeyPatch, name: str, module: str
) -> None:
    import filiation.training as training

    monkeypatch.setitem(sys.modules, module, None)  # as if it were not installed
    for loaded in ("transformers_callback", "keras_callback"):
        monkeypatch.delitem(sys.modules, f"filiation.training.{loaded}", raising=False)
    with pytest.raises(MissingExtraError, match=r"pip install 'filiation\[train\]'"):
        getattr(importlib.reload(training), name)
    assert TrainingRecorder(framework="x").steps == []


# -- the API and the web pages ----------------------------------------------------------------
def test_api_and_model_page_show_provenance_and_runs(g: filiation.Genealogy) -> None:
    import re

    from fastapi.testclient import TestClient

    from filiation.api import create_app
    from tests.test_registry_web import bearer, login, page_ok

    reg = g.registry
    run = reg.record_training(
        "Support <b>bot</b>",
        framework="transformers",
        actor=reg.user("edith"),
        base_model=GPT2,
        datasets=["internal/tickets"],
        hyper_parameters={"learning_rate": 5e-4, "per_device_train_batch_size": 2},
        metrics={"eval_loss": 1.23456789},
        steps=[{"step": s, "at": "2026-11-22T10:00:00", "details": {}} for s in STEPS],
        output_dir="/models/support-bot",
    )
    with TestClient(create_app(g)) as client:
        assert client.get(f"/api/registry/models/{run.model_id}/runs").status_code == 401
        headers = bearer(g, "victor")
        r = client.get(f"/api/registry/models/{run.model_id}/runs", headers=headers)
        assert r.status_code == 200
        (got,) = r.json()
        assert got["metrics"] == {"eval_loss": 1.23456789} and got["base_model"] == GPT2
        assert [s["step"] for s in got["steps"]] == list(STEPS)
        detail = client.get(f"/api/registry/models/{run.model_id}", headers=headers).json()
        assert detail["derived_provenance"] == "declared"
        assert detail["derived_evidence"] == "training callback"
        assert [x["id"] for x in detail["training_runs"]] == [run.id]
        assert client.get("/api/registry/models/999999/runs", headers=headers).status_code == 404

        login(client, "victor")
        en = page_ok(client.get(f"/en/registry/models/{run.model_id}"))
        assert re.search(r'id="provenance">declared<', en)
        assert 'id="evidence">training callback<' in en
        assert f'id="run-{run.id}"' in en and "by edith (transformers)" in en
        assert "eval_loss</span>: 1.235" in en and "data preparation" in en
        assert "Support &lt;b&gt;bot&lt;/b&gt;" in en and "<b>bot" not in en
        fr = page_ok(client.get(f"/fr/registry/models/{run.model_id}"))
        assert re.search(r'id="provenance">déclaré<', fr)
        assert "Entraînements" in fr and "préparation des données" in fr and "par edith" in fr
        # the history speaks the page's language too, codes included
        changes = fr[fr.index('class="changes"') :]
        assert "<ins>déclaré</ins>" in changes and "<ins>affinage</ins>" in changes
        assert "<ins>declared</ins>" not in changes and "<ins>finetune</ins>" not in changes


def test_keras_runs_on_torch_when_nothing_chose_a_back_end(tmp_path: Path) -> None:
    """The extra installs torch, not TensorFlow: the callback works without KERAS_BACKEND."""
    import subprocess

    env = {k: v for k, v in os.environ.items() if k not in ("KERAS_BACKEND", "KERAS_HOME")}
    env["HOME"] = str(tmp_path)  # no ~/.keras/keras.json
    code = (
        "from filiation.training import KerasCallback; import keras; "
        "print(keras.backend.backend(), KerasCallback.__mro__[1].__module__)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split()[0] == "torch"
