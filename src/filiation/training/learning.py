"""The learning type of a training run, read from what the framework shows the callback.

The registry's vocabulary (:class:`~filiation.registry.vocabulary.LearningType`) has four
values; a run gets one only when the evidence says which, else none (never a guess):

- a preference or reward trainer (``trl``'s DPO, KTO, ORPO, CPO, PPO, GRPO, RLOO, reward
  and online-DPO configurations): **reinforcement** (learning from rewards or preferences);
- a language-modelling head (``…ForCausalLM``, ``…LMHeadModel``, ``…ForConditionalGeneration``,
  ``…ForSeq2SeqLM``): **supervised** when it starts from a base model (supervised
  fine-tuning on examples of the expected output), **unsupervised** when trained from scratch
  (pretraining on raw text, self-supervised: the vocabulary files it under unsupervised,
  data that carries no labels);
- a masked-language-modelling or pretraining head (``…ForMaskedLM``, ``…ForPreTraining``):
  **unsupervised** (the text is its own target);
- a task head that predicts labels (``…ForSequenceClassification``, token classification,
  question answering, multiple choice, image or audio classification, object detection,
  segmentation, CTC speech recognition): **supervised**;
- in Keras, a compiled loss that compares predictions with given targets (cross-entropies,
  mean squared or absolute error, hinge, Huber...): **supervised**.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from filiation.registry.vocabulary import LearningType

#: ``trl`` configuration classes (``args`` of its trainers) that learn from rewards or preferences.
PREFERENCE_CONFIGS = (
    "DPOConfig",
    "KTOConfig",
    "ORPOConfig",
    "CPOConfig",
    "PPOConfig",
    "GRPOConfig",
    "RLOOConfig",
    "RewardConfig",
    "OnlineDPOConfig",
    "XPOConfig",
    "NashMDConfig",
    "PRMConfig",
)
GENERATIVE_HEADS = ("ForCausalLM", "LMHeadModel", "ForConditionalGeneration", "ForSeq2SeqLM")
SELF_SUPERVISED_HEADS = ("ForMaskedLM", "ForPreTraining", "ForMaskedImageModeling")
LABELLED_HEADS = (
    "ForSequenceClassification",
    "ForTokenClassification",
    "ForQuestionAnswering",
    "ForMultipleChoice",
    "ForImageClassification",
    "ForAudioClassification",
    "ForAudioFrameClassification",
    "ForObjectDetection",
    "ForSemanticSegmentation",
    "ForInstanceSegmentation",
    "ForUniversalSegmentation",
    "ForVideoClassification",
    "ForCTC",
)
#: Keras losses (their registered names, lower case) that compare outputs with given targets.
SUPERVISED_LOSSES = (
    "crossentropy",
    "mean_squared",
    "mean_absolute",
    "mse",
    "mae",
    "mape",
    "msle",
    "hinge",
    "huber",
    "log_cosh",
    "logcosh",
    "poisson",
    "ctc",
    "dice",
    "tversky",
    "focal",
)


def from_transformers(
    model_classes: Iterable[str], args_class: str | None, from_base: bool
) -> LearningType | None:
    """A ``transformers``/``trl`` run's learning type: ``model_classes`` are the class names
    of the trained model (and of the model under a ``peft`` wrapper), ``args_class`` the
    class of its training arguments, ``from_base`` whether it starts from a base model."""
    if args_class in PREFERENCE_CONFIGS:
        return LearningType.REINFORCEMENT
    names = [n for n in model_classes if n]
    if any(n.endswith(head) for n in names for head in LABELLED_HEADS):
        return LearningType.SUPERVISED
    if any(n.endswith(head) for n in names for head in SELF_SUPERVISED_HEADS):
        return LearningType.UNSUPERVISED
    if any(n.endswith(head) for n in names for head in GENERATIVE_HEADS):
        return LearningType.SUPERVISED if from_base else LearningType.UNSUPERVISED
    return None


def from_keras_loss(loss: Any) -> LearningType | None:
    """A Keras run's learning type from its compiled loss (a name, a loss object's
    configuration, or a list or mapping of them for several outputs)."""
    names: list[str] = []

    def collect(value: Any) -> None:
        if isinstance(value, str):
            names.append(value.lower())
        elif isinstance(value, dict):
            if "class_name" in value or "config" in value:
                collect(value.get("class_name"))
                collect((value.get("config") or {}).get("name"))
            else:
                for item in value.values():
                    collect(item)
        elif isinstance(value, list | tuple):
            for item in value:
                collect(item)
        elif value is not None:
            collect(getattr(value, "name", None) or type(value).__name__)

    collect(loss)
    flat = [n.replace("_", "") for n in names]
    keys = [k.replace("_", "") for k in SUPERVISED_LOSSES]
    if flat and all(any(k in n for k in keys) for n in flat):
        return LearningType.SUPERVISED
    return None
