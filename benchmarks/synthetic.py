#!/usr/bin/env python3
"""Generate a synthetic Hugging Face Hub ``models.parquet`` in the exact hub-stats schema.

The structure is scaled from the full-Hub reference figures in
``../shared/data/README.md`` (snapshot of 2026-09-25):

* 3,094,856 models, 903,939 parent->child links, 28.1 % of models with a parent,
  17,457 with several parents; links by relation finetune 341,527, adapter 332,102,
  quantized 181,768, merge 47,662, unspecified 880.
* the six most-derived parents keep their real direct-children counts when N >= 1M
  (scaled by N / 1M below), FLUX.1-dev with ~53,000 descendants over several generations.

Everything else (heavy-tailed families, long chains, merges, cycles, self-loops, ghost
parents, tag-only / cardData-only parents, datasets, licences, downloads...) is drawn
with numpy and assembled with pyarrow compute kernels, one row group at a time.

    python benchmarks/synthetic.py --models 3100000 \
        --out /tmp/filiation-bench/hub-3.1M.parquet --seed 1

Writes ``<out>`` and ``<out>.meta.json`` (what to query: largest family root, deepest
model, cycles, and the figures actually generated).
"""

from __future__ import annotations

import argparse
import itertools
import json
import resource
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

# The real dump's schema: the sample shipped inside filiation (a copy of ../shared's).
SAMPLE_PARQUET = (
    Path(__file__).resolve().parents[1] / "src" / "filiation" / "data" / "hub-stats-sample.parquet"
)

# ----------------------------------------------------------------- reference figures
REF_MODELS = 3_094_856
REF_CHILD_FRACTION = 0.281
REF_MULTI_PARENT = 17_457
REF_LINKS_BY_RELATION = {
    "finetune": 341_527,
    "adapter": 332_102,
    "quantized": 181_768,
    "merge": 47_662,
    "unspecified": 880,
}
FULL_SIZE_FROM = 1_000_000  # named families at their real size from this N on
SNAPSHOT = np.datetime64("2026-09-25T00:00:00", "us").astype(np.int64)
HUB_LEGACY = np.datetime64("2022-03-02T23:29:04", "us").astype(np.int64)
DAY_US = 86_400 * 1_000_000

# relation codes
ROOT, FT, AD, QU, ME, UN = 0, 1, 2, 3, 4, 5
REL_NAME = [None, "finetune", "adapter", "quantized", "merge", None]
REL_KEY = [None, "finetune", "adapter", "quantized", "merge", "unspecified"]
# how likely a node of each relation is to be picked as a parent (adapters rarely are)
REL_PARENT_WEIGHT = np.array([1.0, 1.0, 0.12, 0.3, 1.2, 0.5])

# group codes (what produced a node)
G_NAMED, G_POPULAR, G_ROOT, G_GHOST, G_FAMILY, G_CHAIN, G_CYCLE, G_GENERIC = range(8)

# ----------------------------------------------------------------- vocabularies
PIPELINES = [
    "text-generation",
    "text-classification",
    "text-to-image",
    "reinforcement-learning",
    "automatic-speech-recognition",
    "image-classification",
    "feature-extraction",
    "sentence-similarity",
    "text2text-generation",
    "token-classification",
    "fill-mask",
    "image-text-to-text",
    "question-answering",
    "translation",
    "text-to-speech",
    "summarization",
    "object-detection",
    "audio-classification",
    "image-segmentation",
    "robotics",
    "any-to-any",
    "zero-shot-classification",
    "image-to-image",
    "unconditional-image-generation",
    "text-to-video",
    "image-feature-extraction",
]
PIPE = {p: i for i, p in enumerate(PIPELINES)}
# share of *root* models per pipeline (the rest have none); children mostly inherit.
ROOT_PIPE_P = {
    "text-generation": 0.092,
    "text-classification": 0.036,
    "text-to-image": 0.012,
    "reinforcement-learning": 0.022,
    "automatic-speech-recognition": 0.022,
    "image-classification": 0.022,
    "feature-extraction": 0.014,
    "sentence-similarity": 0.011,
    "text2text-generation": 0.016,
    "token-classification": 0.011,
    "fill-mask": 0.008,
    "image-text-to-text": 0.008,
    "question-answering": 0.007,
    "translation": 0.006,
    "text-to-speech": 0.004,
    "summarization": 0.003,
    "object-detection": 0.003,
    "audio-classification": 0.003,
    "image-segmentation": 0.002,
    "robotics": 0.003,
    "any-to-any": 0.001,
    "zero-shot-classification": 0.001,
    "image-to-image": 0.002,
    "unconditional-image-generation": 0.003,
    "text-to-video": 0.001,
    "image-feature-extraction": 0.001,
}
IMAGE_PIPES = {
    PIPE["text-to-image"],
    PIPE["image-to-image"],
    PIPE["unconditional-image-generation"],
    PIPE["text-to-video"],
}

# architecture tag, name stems
ARCHS = [
    ("llama", ["llama-3-8b", "Llama-3.2-1B", "tinyllama-1.1b", "llama-2-7b", "Llama-3.1-8B"]),
    ("qwen2", ["Qwen2.5-7B", "qwen2-1.5b", "Qwen2.5-0.5B", "Qwen2.5-3B"]),
    ("mistral", ["mistral-7b", "Mistral-Nemo-12B", "zephyr-7b"]),
    ("gemma", ["gemma-2b", "gemma-2-9b", "gemma-7b"]),
    ("phi3", ["phi-3-mini", "Phi-3.5-mini"]),
    ("gpt2", ["gpt2", "distilgpt2", "gpt2-medium"]),
    ("gpt_neox", ["pythia-160m", "pythia-1b"]),
    ("opt", ["opt-350m", "opt-125m"]),
    ("bert", ["bert-base-uncased", "bert-base-cased", "bert-base-multilingual-cased"]),
    ("roberta", ["roberta-base", "roberta-large"]),
    ("deberta-v2", ["deberta-v3-base", "deberta-v3-small"]),
    ("distilbert", ["distilbert-base-uncased", "distilbert-base-cased"]),
    ("xlm-roberta", ["xlm-roberta-base", "xlm-roberta-large"]),
    ("electra", ["electra-small", "electra-base"]),
    ("stable-diffusion-xl", ["sdxl", "sdxl-turbo"]),
    ("stable-diffusion", ["sd15", "stable-diffusion-v1-5", "sd-class"]),
    ("flux", ["flux", "flux-schnell"]),
    (
        "deep-reinforcement-learning",
        [
            "ppo-LunarLander-v2",
            "dqn-SpaceInvadersNoFrameskip-v4",
            "a2c-PandaReachDense-v3",
            "ppo-Huggy",
            "q-FrozenLake-v1",
        ],
    ),
    ("whisper", ["whisper-small", "whisper-tiny", "whisper-large-v3"]),
    ("wav2vec2", ["wav2vec2-base", "wav2vec2-large-xlsr-53"]),
    ("vit", ["vit-base-patch16-224", "vit-small"]),
    ("convnext", ["convnext-tiny", "convnext-base"]),
    ("resnet", ["resnet-50", "resnet-18"]),
    ("swin", ["swin-tiny-patch4-window7-224"]),
    ("t5", ["t5-small", "flan-t5-base", "mt5-small"]),
    ("bart", ["bart-large", "bart-base"]),
    ("marian", ["opus-mt"]),
    ("qwen2_vl", ["Qwen2-VL-2B", "Qwen2.5-VL-7B"]),
    ("llava", ["llava-1.5-7b"]),
    ("vits", ["mms-tts", "vits"]),
    ("speecht5", ["speecht5_tts"]),
    ("detr", ["detr-resnet-50", "yolos-tiny"]),
    ("segformer", ["segformer-b0"]),
    ("dinov2", ["dinov2-small"]),
    ("act", ["act-so100", "pi0"]),
    ("unet", ["ddpm-butterflies-128", "ddpm-cifar10"]),
    ("wan", ["wan2.1-t2v"]),
]
A = {t: i for i, (t, _) in enumerate(ARCHS)}
PIPE_ARCHS = {
    "text-generation": ["llama", "qwen2", "mistral", "gemma", "phi3", "gpt2", "gpt_neox", "opt"],
    "text-classification": [
        "bert",
        "roberta",
        "deberta-v2",
        "distilbert",
        "xlm-roberta",
        "electra",
    ],
    "text-to-image": ["stable-diffusion-xl", "stable-diffusion", "flux"],
    "reinforcement-learning": ["deep-reinforcement-learning"],
    "automatic-speech-recognition": ["whisper", "wav2vec2"],
    "image-classification": ["vit", "convnext", "resnet", "swin"],
    "feature-extraction": ["bert", "xlm-roberta", "dinov2"],
    "sentence-similarity": ["bert", "xlm-roberta", "roberta"],
    "text2text-generation": ["t5", "bart"],
    "token-classification": ["bert", "roberta", "xlm-roberta", "distilbert"],
    "fill-mask": ["bert", "roberta", "distilbert"],
    "image-text-to-text": ["qwen2_vl", "llava"],
    "question-answering": ["bert", "distilbert", "roberta"],
    "translation": ["marian", "t5"],
    "text-to-speech": ["vits", "speecht5"],
    "summarization": ["bart", "t5"],
    "object-detection": ["detr"],
    "audio-classification": ["wav2vec2"],
    "image-segmentation": ["segformer"],
    "robotics": ["act"],
    "any-to-any": ["qwen2_vl"],
    "zero-shot-classification": ["bart", "deberta-v2"],
    "image-to-image": ["stable-diffusion"],
    "unconditional-image-generation": ["unet"],
    "text-to-video": ["wan"],
    "image-feature-extraction": ["dinov2", "vit"],
}
LIBRARIES = [
    "transformers",
    "diffusers",
    "peft",
    "gguf",
    "sentence-transformers",
    "timm",
    "ml-agents",
    "stable-baselines3",
    "keras",
    "pytorch",
    "mlx",
    "onnx",
    "transformers.js",
    "lerobot",
    "setfit",
    "adapter-transformers",
    "nemo",
    "espnet",
]
L = {n: i for i, n in enumerate(LIBRARIES)}
PIPE_LIBS = {  # library of root models by pipeline: (libs, probs); the remainder is none
    "text-generation": (["transformers", "mlx", "onnx", "pytorch"], [0.86, 0.03, 0.02, 0.02]),
    "text-classification": (
        ["transformers", "setfit", "onnx", "pytorch"],
        [0.88, 0.04, 0.02, 0.02],
    ),
    "text-to-image": (["diffusers"], [0.9]),
    "reinforcement-learning": (["stable-baselines3", "ml-agents", "pytorch"], [0.55, 0.3, 0.05]),
    "feature-extraction": (
        ["sentence-transformers", "transformers", "transformers.js"],
        [0.5, 0.4, 0.05],
    ),
    "sentence-similarity": (["sentence-transformers"], [0.95]),
    "image-classification": (["transformers", "timm", "keras", "pytorch"], [0.6, 0.25, 0.05, 0.05]),
    "automatic-speech-recognition": (["transformers", "nemo", "espnet"], [0.85, 0.05, 0.04]),
    "robotics": (["lerobot"], [0.9]),
    "unconditional-image-generation": (["diffusers"], [0.9]),
    "image-to-image": (["diffusers"], [0.8]),
    "text-to-video": (["diffusers"], [0.8]),
}
DEFAULT_LIBS = (["transformers", "pytorch", "keras"], [0.8, 0.04, 0.03])
QUANTIZERS = [  # big quantization publishers, size at full scale
    ("mradermacher", 38_000),
    ("RichardErkhov", 26_000),
    ("tensorblock", 9_000),
    ("mlx-community", 5_500),
    ("bartowski", 6_000),
    ("TheBloke", 3_900),
    ("QuantFactory", 3_200),
    ("DevQuasar", 3_000),
    ("second-state", 1_100),
    ("lmstudio-community", 1_000),
    ("featherless-ai-quants", 2_500),
    ("LoneStriker", 1_800),
    ("unsloth", 2_200),
]
BIG_PUBLISHERS = [  # non-quantizer publishers with thousands of models, size at full scale
    ("hf-internal-testing", 4_000),
    ("onnx-community", 3_000),
    ("facebook", 2_600),
    ("Helsinki-NLP", 1_500),
    ("timm", 1_300),
    ("sd-concepts-library", 1_200),
    ("Xenova", 1_500),
    ("google", 1_200),
    ("microsoft", 900),
    ("nvidia", 1_000),
    ("sentence-transformers", 300),
    ("jncraton", 1_100),
    ("fxmarty", 600),
]
LICENSES = [
    "apache-2.0",
    "mit",
    "openrail",
    "other",
    "cc-by-4.0",
    "creativeml-openrail-m",
    "cc-by-nc-4.0",
    "llama3",
    "llama3.1",
    "llama2",
    "gemma",
    "afl-3.0",
    "bsd-3-clause",
    "gpl-3.0",
    "cc-by-sa-4.0",
    "unknown",
    "wtfpl",
    "cc-by-nc-sa-4.0",
    "openrail++",
    "llama3.2",
    "cc0-1.0",
    "artistic-2.0",
    "agpl-3.0",
    "bigscience-openrail-m",
]
LIC = {n: i for i, n in enumerate(LICENSES)}
LICENSE_P = {  # for models that draw a fresh licence; the rest has none
    "apache-2.0": 0.176,
    "mit": 0.064,
    "openrail": 0.025,
    "other": 0.028,
    "cc-by-4.0": 0.012,
    "creativeml-openrail-m": 0.012,
    "cc-by-nc-4.0": 0.010,
    "llama3": 0.005,
    "llama3.1": 0.005,
    "llama2": 0.005,
    "gemma": 0.004,
    "afl-3.0": 0.004,
    "bsd-3-clause": 0.002,
    "gpl-3.0": 0.003,
    "cc-by-sa-4.0": 0.003,
    "unknown": 0.003,
    "wtfpl": 0.001,
    "cc-by-nc-sa-4.0": 0.002,
    "openrail++": 0.002,
    "llama3.2": 0.002,
    "cc0-1.0": 0.001,
    "artistic-2.0": 0.0005,
    "agpl-3.0": 0.0008,
    "bigscience-openrail-m": 0.001,
}
# (id, pipeline, library, arch, licence, created, downloads, likes, direct children at full
#  scale, extra descendants / direct, children relation mix, children pipeline mix)
NAMED = [
    (
        "black-forest-labs/FLUX.1-dev",
        "text-to-image",
        "diffusers",
        "flux",
        "other",
        "2024-07-31",
        1_950_000,
        11_800,
        43_388,
        (53_000 - 43_388) / 43_388,
        {AD: 0.86, FT: 0.09, QU: 0.05},
        {"text-to-image": 0.97},
    ),
    (
        "Qwen/Qwen1.5-0.5B",
        "text-generation",
        "transformers",
        "qwen2",
        "other",
        "2024-01-22",
        480_000,
        160,
        32_534,
        0.02,
        {FT: 0.93, AD: 0.03, QU: 0.04},
        {"text-generation": 0.98},
    ),
    (
        "Qwen/Qwen1.5-1.8B",
        "text-generation",
        "transformers",
        "qwen2",
        "other",
        "2024-01-22",
        210_000,
        50,
        30_626,
        0.02,
        {FT: 0.93, AD: 0.03, QU: 0.04},
        {"text-generation": 0.98},
    ),
    (
        "google/gemma-2b",
        "text-generation",
        "transformers",
        "gemma",
        "gemma",
        "2024-02-08",
        380_000,
        1_100,
        24_035,
        0.08,
        {FT: 0.80, AD: 0.14, QU: 0.06},
        {"text-generation": 0.97},
    ),
    # renamed on the Hub: children's cards often still say "distilbert-base-uncased"
    (
        "distilbert/distilbert-base-uncased",
        "fill-mask",
        "transformers",
        "distilbert",
        "apache-2.0",
        "2022-03-02",
        9_800_000,
        760,
        12_960,
        0.03,
        {FT: 0.99, QU: 0.01},
        {
            "text-classification": 0.8,
            "token-classification": 0.08,
            "question-answering": 0.05,
            "fill-mask": 0.06,
        },
    ),
    (
        "stabilityai/stable-diffusion-xl-base-1.0",
        "text-to-image",
        "diffusers",
        "stable-diffusion-xl",
        "openrail++",
        "2023-07-25",
        2_300_000,
        7_000,
        10_956,
        0.10,
        {AD: 0.85, FT: 0.13, QU: 0.02},
        {"text-to-image": 0.97},
    ),
]
LEGACY_ALIAS = {"distilbert/distilbert-base-uncased": "distilbert-base-uncased"}
# popular bases given to the most-derived generic roots, by rank
POPULAR = [
    ("meta-llama/Llama-3.1-8B-Instruct", "text-generation", "llama"),
    ("mistralai/Mistral-7B-v0.1", "text-generation", "mistral"),
    ("meta-llama/Meta-Llama-3-8B", "text-generation", "llama"),
    ("Qwen/Qwen2.5-7B-Instruct", "text-generation", "qwen2"),
    ("runwayml/stable-diffusion-v1-5", "text-to-image", "stable-diffusion"),
    ("google-bert/bert-base-uncased", "fill-mask", "bert"),
    ("unsloth/llama-3-8b-bnb-4bit", "text-generation", "llama"),
    ("openai/whisper-small", "automatic-speech-recognition", "whisper"),
    ("FacebookAI/roberta-base", "fill-mask", "roberta"),
    ("meta-llama/Llama-2-7b-hf", "text-generation", "llama"),
    ("Qwen/Qwen2.5-0.5B-Instruct", "text-generation", "qwen2"),
    ("TinyLlama/TinyLlama-1.1B-Chat-v1.0", "text-generation", "llama"),
    ("google/vit-base-patch16-224-in21k", "image-feature-extraction", "vit"),
    ("mistralai/Mistral-7B-Instruct-v0.2", "text-generation", "mistral"),
    ("google-t5/t5-small", "translation", "t5"),
    ("microsoft/phi-2", "text-generation", "phi3"),
    ("openai-community/gpt2", "text-generation", "gpt2"),
    ("FacebookAI/xlm-roberta-base", "fill-mask", "xlm-roberta"),
    ("meta-llama/Llama-3.2-1B-Instruct", "text-generation", "llama"),
    ("openai/whisper-large-v3", "automatic-speech-recognition", "whisper"),
    ("deepseek-ai/DeepSeek-R1-Distill-Qwen-7B", "text-generation", "qwen2"),
    ("google/flan-t5-base", "text2text-generation", "t5"),
    ("sentence-transformers/all-MiniLM-L6-v2", "sentence-similarity", "bert"),
    ("microsoft/deberta-v3-base", "fill-mask", "deberta-v2"),
    ("facebook/wav2vec2-base", "automatic-speech-recognition", "wav2vec2"),
    ("google/gemma-2-9b-it", "text-generation", "gemma"),
    ("Qwen/Qwen3-8B", "text-generation", "qwen2"),
    ("HuggingFaceTB/SmolLM2-135M-Instruct", "text-generation", "llama"),
    ("stabilityai/stable-diffusion-2-1", "text-to-image", "stable-diffusion"),
    ("microsoft/Phi-3-mini-4k-instruct", "text-generation", "phi3"),
    ("facebook/opt-125m", "text-generation", "opt"),
    ("EleutherAI/pythia-70m", "text-generation", "gpt_neox"),
    ("Qwen/Qwen2-VL-7B-Instruct", "image-text-to-text", "qwen2_vl"),
    ("BAAI/bge-m3", "sentence-similarity", "xlm-roberta"),
    ("google/vit-base-patch16-224", "image-classification", "vit"),
    ("microsoft/resnet-50", "image-classification", "resnet"),
    ("facebook/bart-large-cnn", "summarization", "bart"),
    ("Qwen/Qwen2.5-Coder-7B-Instruct", "text-generation", "qwen2"),
    ("mistralai/Mixtral-8x7B-Instruct-v0.1", "text-generation", "mistral"),
    ("meta-llama/Llama-3.2-3B-Instruct", "text-generation", "llama"),
]
WORDS = """
    alpha beta gamma delta sigma omega nova astra lumen aurora nebula zenith orion vega
    lyra atlas titan hermes athena apollo iris echo ember frost blaze storm thunder
    shadow phoenix dragon tiger falcon raven wolf fox panda koala otter lynx cobra viper
    mamba hydra kraken chat instruct sft dpo orpo kto grpo rlhf reward math code coder
    sql medical legal finance bio chem physics law tutor story roleplay rp uncensored
    abliterated distill reasoning thinking vision audio speech ner pos sentiment emotion
    toxicity spam news review imdb sst2 squad mnli cola qnli glue conll wnut xsum cnn
    samsum arxiv pubmed wiki alpaca dolly oasst ultrachat hermes orca platypus openorca
    slimorca metamath gsm8k mmlu arc hellaswag ko ja zh fr de es it pt ru ar hi tr vi th
    id nl pl sv fi uk fa he bn ta te ur sw multilingual anime portrait realistic pixel
    cinematic photo sketch watercolor cartoon comic fantasy scifi neon retro vintage
    minimal logo icon interior fashion food landscape cyberpunk steampunk lowpoly test
    demo exp trial run final best small base large tiny mini lite pro plus max ultra v1
    v2 v3 v4 v5 2b 3b 7b 8b 13b 1b 4bit 8bit merged mix blend fusion hybrid swarm gensyn
""".split()  # noqa: SIM905 (compact vocabulary)
QUANT_SUFFIX = [
    "GGUF",
    "i1-GGUF",
    "Q4_K_M-GGUF",
    "Q8_0-GGUF",
    "Q5_K_M-GGUF",
    "AWQ",
    "GPTQ",
    "GPTQ-Int4",
    "bnb-4bit",
    "4bit",
    "8bit",
    "mlx-4bit",
    "mlx-8bit",
    "exl2",
    "FP8",
    "FP8-Dynamic",
    "int4-ov",
    "onnx",
    "GGUF",
    "GGUF",
    "i1-GGUF",
]
ADAPTER_SUFFIX = ["lora", "LoRA", "adapter", "qlora", "lora-r16", "peft", "lora", "LoRA"]
MERGE_SUFFIX = ["slerp", "ties", "dare-ties", "merge", "model_stock", "passthrough", "della", "MoE"]
FINETUNE_SUFFIX = ["sft", "dpo", "instruct", "chat", "finetuned", "ft", "it", "v2", "orpo", "grpo"]
# free-form tags; none of them can also come from the library/format/arch/pipeline slots
EXTRA_TAGS = [
    "conversational",
    "text-generation-inference",
    "generated_from_trainer",
    "trl",
    "sft",
    "lora",
    "unsloth",
    "mergekit",
    "merge",
    "custom_code",
    "4-bit",
    "autotrain_compatible",
    "tensorboard",
    "jax",
    "tf",
    "template:sd-lora",
    "diffusers-training",
    "dreambooth",
    "model-index",
    "eval-results",
    "imatrix",
    "awq",
    "gptq",
    "8-bit",
    "chat",
    "instruct",
    "llama-cpp",
    "gguf-my-repo",
    "dpo",
    "grpo",
]
LANGS = [
    "en",
    "zh",
    "fr",
    "de",
    "es",
    "ja",
    "ko",
    "ru",
    "ar",
    "hi",
    "pt",
    "it",
    "tr",
    "vi",
    "id",
    "nl",
    "pl",
    "multilingual",
]
CARD_TAGS = [
    '["generated_from_trainer"]',
    '["trl", "sft"]',
    '["mergekit", "merge"]',
    '["text-generation-inference", "transformers", "unsloth", "llama", "trl"]',
    '["lora", "text-to-image", "diffusers", "template:sd-lora"]',
    '["autotrain"]',
    '["peft", "lora"]',
    '["gguf", "llama-cpp", "gguf-my-repo"]',
    '["sentence-transformers", "feature-extraction"]',
    '["stable-baselines3"]',
]
FAMOUS_DATASETS = [
    "HuggingFaceH4/ultrachat_200k",
    "teknium/OpenHermes-2.5",
    "tatsu-lab/alpaca",
    "Open-Orca/SlimOrca",
    "HuggingFaceH4/ultrafeedback_binarized",
    "imdb",
    "glue",
    "squad",
    "wikitext",
    "mozilla-foundation/common_voice_11_0",
    "argilla/dpo-mix-7k",
    "databricks/databricks-dolly-15k",
    "OpenAssistant/oasst1",
    "meta-math/MetaMathQA",
    "openai/gsm8k",
    "yahma/alpaca-cleaned",
    "garage-bAInd/Open-Platypus",
    "Anthropic/hh-rlhf",
    "conll2003",
    "emotion",
    "cnn_dailymail",
    "samsum",
    "xsum",
    "ag_news",
    "yelp_review_full",
    "timdettmers/openassistant-guanaco",
    "vicgalle/alpaca-gpt4",
    "Intel/orca_dpo_pairs",
    "mlabonne/orpo-dpo-mix-40k",
    "allenai/c4",
]
SYLLABLES = """
    ka ri to na mi so lu ve da ze po qu ax el on ir us yo ba ce di fo gu ha je ki lo ma
    ne pi ro sa te vi wu xa za bo cu de fi go hu ja ko li mo nu pa ra si tu va we xi yu
    zo an en in un ar er or ur al il ol ul as es is os ly ny my ty sy dr kr tr st sk sp
    fl gl pl br cr gr pr th sh ch ph wh qi
""".split()  # noqa: SIM905 (compact vocabulary)


# ----------------------------------------------------------------- helpers
def scaled(x: float, s: float, minimum: int = 0) -> int:
    return max(minimum, round(x * s))


def cdf_of(weights) -> np.ndarray:
    c = np.cumsum(np.asarray(weights, dtype=np.float64))
    return c / c[-1]


def draw(rng, cdf: np.ndarray, size: int) -> np.ndarray:
    return np.minimum(np.searchsorted(cdf, rng.random(size), side="right"), len(cdf) - 1)


def draw_codes(rng, probs: dict, index: dict, size: int, none_code: int = -1) -> np.ndarray:
    """Draw codes from {name: p}; probability mass left over -> none_code."""
    names = list(probs)
    p = np.array([probs[n] for n in names], dtype=np.float64)
    rest = max(0.0, 1.0 - p.sum())
    codes = np.array([index[n] for n in names] + [none_code])
    return codes[draw(rng, cdf_of(np.append(p, rest)), size)]


def cap_weights(w: np.ndarray, n_draws: int, max_degree: float) -> np.ndarray:
    """Clip weights so that no candidate expects more than max_degree children."""
    w = w.astype(np.float64)
    for _ in range(8):
        lim = max_degree * w.sum() / max(1, n_draws)
        if w.max() <= lim * 1.0001:
            break
        np.minimum(w, lim, out=w)
    return w


def hex_ids(rng, created_us: np.ndarray) -> pa.Array:
    """24-hex-digit ObjectId-like strings: 4 bytes of creation time + 8 random bytes."""
    n = len(created_us)
    raw = np.empty((n, 12), dtype=np.uint8)
    secs = (created_us // 1_000_000).astype(">u4")
    raw[:, :4] = secs.view(np.uint8).reshape(n, 4)
    raw[:, 4:] = rng.integers(0, 256, size=(n, 8), dtype=np.uint8)
    digits = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
    out = np.empty((n, 24), dtype=np.uint8)
    out[:, 0::2] = digits[raw >> 4]
    out[:, 1::2] = digits[raw & 15]
    offsets = np.arange(0, 24 * n + 1, 24, dtype=np.int32)
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(out.tobytes()))


def take_str(vocab: list, codes: np.ndarray) -> pa.Array:
    """Strings vocab[code], null where code < 0."""
    v = pa.array(vocab, pa.string())
    return pc.take(v, pa.array(np.where(codes < 0, 0, codes), mask=codes < 0))


def join(*parts, sep: str = "") -> pa.Array:
    return pc.binary_join_element_wise(*parts, sep)


def join_skip(*parts, sep: str) -> pa.Array:
    """Join the non-null parts of each row (null if all are null).

    Not binary_join_element_wise(null_handling="skip"): pyarrow 26 drops all-null rows.
    """
    acc = parts[0]
    for p in parts[1:]:
        acc = pc.coalesce(pc.binary_join_element_wise(acc, p, sep), acc, p)
    return acc


def hub_schema(source: str | None) -> tuple[pa.Schema, str]:
    if source and source != "builtin" and Path(source).exists():
        return pq.read_schema(source), source
    dtypes = [
        "BF16",
        "F32",
        "F8_E4M3",
        "U8",
        "I64",
        "F8_E8M0",
        "I8",
        "I32",
        "F16",
        "U32",
        "BOOL",
        "I16",
        "U16",
        "C64",
        "F64",
        "miku",
        "fastllm",
        "F8_E5M2",
        "U64",
        "F6_E2M3",
    ]
    params = pa.struct([pa.field(d, pa.int64()) for d in dtypes])
    return pa.schema(
        [
            ("id", pa.string()),
            ("author", pa.string()),
            ("createdAt", pa.timestamp("us")),
            ("lastModified", pa.timestamp("us")),
            ("downloads", pa.int64()),
            ("downloadsAllTime", pa.int64()),
            ("likes", pa.int64()),
            ("trendingScore", pa.float64()),
            ("tags", pa.list_(pa.field("element", pa.string()))),
            ("cardData", pa.string()),
            ("safetensors", pa.struct([("parameters", params), ("total", pa.int64())])),
            ("gguf", pa.string()),
            (
                "baseModels",
                pa.struct(
                    [
                        ("relation", pa.string()),
                        (
                            "models",
                            pa.list_(
                                pa.field(
                                    "element",
                                    pa.struct([("_id", pa.string()), ("id", pa.string())]),
                                )
                            ),
                        ),
                    ]
                ),
            ),
            ("pipeline_tag", pa.string()),
            ("library_name", pa.string()),
        ]
    ), "builtin"


def author_handles(rng, n: int, reserved: set[str]) -> list[str]:
    """n distinct synthetic user/org handles (case-insensitively distinct from reserved)."""
    k = len(SYLLABLES)
    out: list[str] = []
    i = 1
    suffixes = ["", "", "", "", "-ai", "-lab", "123", "99", "-dev", "_ml", "2024", "-nlp"]
    low_reserved = {r.lower() for r in reserved}
    while len(out) < n:
        j, parts = i, []
        while j:
            parts.append(SYLLABLES[j % k])
            j //= k
        if len(parts) < 2:
            parts.append(SYLLABLES[(i * 7) % k])
        core = "".join(reversed(parts))
        h = core + suffixes[(i * 2654435761) % len(suffixes)]
        if i % 5 == 0:
            h = h[0].upper() + h[1:]
        if h.lower() not in low_reserved:
            low_reserved.add(h.lower())
            out.append(h)
        i += 1
    return out


# ----------------------------------------------------------------- the generator
class Synth:
    def __init__(self, n_models: int, seed: int, log=print):
        if n_models < 1_000:
            raise ValueError("--models must be at least 1000")
        self.N = n_models
        self.rng = np.random.default_rng(seed)
        self.seed = seed
        self.log = log
        self.s = n_models / REF_MODELS
        self.fs = min(1.0, n_models / FULL_SIZE_FROM)

    # -- structure ------------------------------------------------------------
    def build_structure(self) -> None:
        rng, N, s, fs = self.rng, self.N, self.s, self.fs
        n_children = round(REF_CHILD_FRACTION * N)
        fam_direct = [scaled(f[8], fs, 1) for f in NAMED]
        fam_extra = [round(d * f[9]) for d, f in zip(fam_direct, NAMED, strict=False)]
        chain_lengths = [96, 84, 57, 41, 30] if N >= 50000 else [max(3, min(96, N // 25))]
        n_self = scaled(60, s, 2)
        n_cyc2 = scaled(25, s, 2)
        cyc_lengths = list(rng.integers(3, 7, size=scaled(10, s, 2)))
        cycle_nodes = n_self + 2 * n_cyc2 + int(sum(cyc_lengths))
        n_multi = scaled(REF_MULTI_PARENT, s, 2)
        n_merge = round(0.92 * n_multi)
        n_unspec = scaled(REF_LINKS_BY_RELATION["unspecified"], s, 1)
        fixed = sum(fam_direct) + sum(fam_extra) + sum(chain_lengths) + cycle_nodes
        n_generic = n_children - fixed - n_multi - n_unspec
        if n_generic < 0:
            raise ValueError(f"N={N} too small for the planted structure")
        n_named = len(NAMED)
        n_roots = N - n_children - n_named  # generic roots (popular ones included)
        n_ghost = max(5, round(0.012 * N))
        T = N + n_ghost
        self.T, self.n_ghost = T, n_ghost

        P = np.full((T, 4), -1, dtype=np.int32)  # parents (baseModels order)
        rel = np.zeros(T, dtype=np.int8)
        level = np.zeros(T, dtype=np.int32)
        grp = np.zeros(T, dtype=np.int8)
        fam = np.full(T, -1, dtype=np.int8)
        ap = np.full(T, -1, dtype=np.int32)  # attribute parent (for inheritance), acyclic
        self.P, self.rel, self.level, self.grp, self.fam, self.ap = P, rel, level, grp, fam, ap

        # layout
        grp[:n_named] = G_NAMED
        fam[:n_named] = np.arange(n_named)
        r0, r1 = n_named, n_named + n_roots
        g0, g1 = r1, r1 + n_ghost
        grp[r0:r1] = G_ROOT
        grp[g0:g1] = G_GHOST
        nxt = g1

        # layer-0 candidates: generic roots + ghosts, Pareto weights
        cand0 = np.arange(r0, g1, dtype=np.int32)
        w0 = rng.pareto(1.1, size=len(cand0)) + 1.0
        # popular names for the heaviest non-ghost roots
        order = np.argsort(-w0[:n_roots], kind="stable")
        n_pop = min(len(POPULAR), n_roots // 10)
        self.popular_idx = (r0 + order[:n_pop]).astype(np.int32)
        grp[self.popular_idx] = G_POPULAR

        # named families
        self.fam_nodes = []
        for f, spec in enumerate(NAMED):
            relmix, d, e = spec[10], fam_direct[f], fam_extra[f]
            kids = np.arange(nxt, nxt + d, dtype=np.int32)
            nxt += d
            P[kids, 0] = f
            ap[kids] = f
            level[kids] = 1
            grp[kids] = G_FAMILY
            fam[kids] = f
            rel[kids] = np.array(list(relmix))[draw(rng, cdf_of(list(relmix.values())), d)]
            members = [kids]
            prev = kids
            xmix = {QU: 0.3, AD: 0.4, FT: 0.3} if f == 0 else {FT: 0.5, QU: 0.35, AD: 0.15}
            sizes = np.round(np.array([0.78, 0.18, 0.04]) * e).astype(int)
            sizes[0] += e - sizes.sum()
            for lv, sz in enumerate(sizes, start=2):
                if sz <= 0 or len(prev) == 0:
                    continue
                nodes = np.arange(nxt, nxt + sz, dtype=np.int32)
                nxt += sz
                w = (rng.pareto(1.2, size=len(prev)) + 1.0) * REL_PARENT_WEIGHT[rel[prev]]
                w = cap_weights(w, sz, max(3, 0.02 * sz + 50))
                par = prev[draw(rng, cdf_of(w), sz)]
                P[nodes, 0] = par
                ap[nodes] = par
                level[nodes] = lv
                grp[nodes] = G_FAMILY
                fam[nodes] = f
                rel[nodes] = np.array(list(xmix))[draw(rng, cdf_of(list(xmix.values())), sz)]
                members.append(nodes)
                prev = nodes
            self.fam_nodes.append(np.concatenate(members))

        # a cycle inside the largest family: X (child of the root) <-> Y (child of X)
        flux = self.fam_nodes[0]
        gkids = flux[(level[flux] == 2)]
        self.flux_cycle = None
        if len(gkids):
            y = int(gkids[0])
            x = int(P[y, 0])
            P[x, 1] = y  # X now also names Y as a parent
            self.flux_cycle = [x, y]

        # long chains hanging off popular roots
        self.chains = []
        cdf0 = cdf_of(w0)
        for c, ln in enumerate(chain_lengths):
            root = int(self.popular_idx[c % max(1, n_pop)]) if n_pop else r0
            nodes = np.arange(nxt, nxt + ln, dtype=np.int32)
            nxt += ln
            prevs = np.concatenate([[root], nodes[:-1]])
            P[nodes, 0] = prevs
            ap[nodes] = prevs
            level[nodes] = level[root] + np.arange(1, ln + 1)
            grp[nodes] = G_CHAIN
            rel[nodes] = FT
            merges = nodes[9::10]  # every 10th link is a merge with a second (shallow) parent
            rel[merges] = ME
            P[merges, 1] = cand0[draw(rng, cdf0, len(merges))]
            rel[nodes[-1]] = FT
            self.chains.append((root, nodes))

        # cycles and self-loops
        self.self_loops, self.cycles = [], []
        nodes = np.arange(nxt, nxt + n_self, dtype=np.int32)
        nxt += n_self
        grp[nodes] = G_CYCLE
        rel[nodes] = FT
        level[nodes] = 1
        half = len(nodes) // 2
        gp = cand0[draw(rng, cdf0, len(nodes))]
        P[nodes[:half], 0] = nodes[:half]  # only itself
        P[nodes[half:], 0] = gp[half:]  # a real parent plus itself
        P[nodes[half:], 1] = nodes[half:]
        ap[nodes[half:]] = gp[half:]
        self.self_loops = nodes.tolist()
        for ln in [2] * n_cyc2 + [int(x) for x in cyc_lengths]:
            nodes = np.arange(nxt, nxt + ln, dtype=np.int32)
            nxt += ln
            grp[nodes] = G_CYCLE
            rel[nodes] = rng.choice([FT, ME], size=ln, p=[0.8, 0.2])
            level[nodes] = 1
            P[nodes, 0] = np.roll(nodes, 1)  # c_i <- c_{i-1}, c_0 <- c_last
            if rng.random() < 0.6:  # attach the cycle to a family
                g = int(cand0[draw(rng, cdf0, 1)][0])
                P[nodes[0], 1] = g
                ap[nodes[0]] = g
            self.cycles.append(nodes.tolist())

        # relation budget left for generic children
        used = np.zeros(6, dtype=np.int64)
        planted = np.arange(n_named + n_roots + n_ghost, nxt)
        np.add.at(used, rel[planted], (P[planted] >= 0).sum(axis=1))
        n_gen_all = n_generic + n_multi + n_unspec
        gnodes = np.arange(nxt, nxt + n_gen_all, dtype=np.int32)
        nxt += n_gen_all
        assert nxt == T, (nxt, T)
        grp[gnodes] = G_GENERIC
        kind = np.zeros(n_gen_all, dtype=np.int8)  # 0 single, 1 merge, 2 other multi, 3 unspec
        perm = rng.permutation(n_gen_all)
        kind[perm[:n_merge]] = 1
        kind[perm[n_merge:n_multi]] = 2
        kind[perm[n_multi : n_multi + n_unspec]] = 3
        nparents = np.ones(n_gen_all, dtype=np.int8)
        nparents[kind == 1] = rng.choice(
            [2, 3, 4], size=int((kind == 1).sum()), p=[0.35, 0.35, 0.30]
        )
        nparents[kind == 2] = 2
        r = np.empty(n_gen_all, dtype=np.int8)
        r[kind == 1] = ME
        r[kind == 2] = rng.choice([FT, AD], size=int((kind == 2).sum()), p=[0.7, 0.3])
        r[kind == 3] = UN
        used[ME] += int(nparents[kind == 1].sum())
        m2 = kind == 2
        np.add.at(used, r[m2], 2)
        single = kind == 0
        remaining = np.array(
            [
                max(0.0, REF_LINKS_BY_RELATION[k] * s - used[c])
                for c, k in ((FT, "finetune"), (AD, "adapter"), (QU, "quantized"))
            ]
        )
        if remaining.sum() <= 0:
            remaining = np.ones(3)
        r[single] = np.array([FT, AD, QU])[draw(rng, cdf_of(remaining), int(single.sum()))]
        rel[gnodes] = r
        layer_p = np.array([0.70, 0.20, 0.06, 0.025, 0.01, 0.004, 0.001])
        lay = 1 + draw(rng, cdf_of(layer_p), n_gen_all)
        level[gnodes] = lay
        named_min = min(fam_direct)
        prev_cand, _prev_w = cand0, None
        for d in range(1, len(layer_p) + 1):
            sel = lay == d
            nodes = gnodes[sel]
            if len(nodes) == 0:
                continue
            k = nparents[sel]
            if d == 1:
                w = cap_weights(w0, len(nodes), 0.7 * named_min)
                # keep the popular roots on top
            else:
                w = (rng.pareto(1.2, size=len(prev_cand)) + 1.0) * REL_PARENT_WEIGHT[rel[prev_cand]]
                w = cap_weights(w, len(nodes), max(5, 0.15 * named_min))
            cdf = cdf_of(w)
            cols = prev_cand[draw(rng, cdf, len(nodes) * 4)].reshape(len(nodes), 4)
            # make multi-parent rows distinct where possible
            for j in range(1, 4):
                for i in range(j):
                    dup = cols[:, j] == cols[:, i]
                    if dup.any():
                        cols[dup, j] = prev_cand[draw(rng, cdf, int(dup.sum()))]
            keep = np.arange(4)[None, :] < k[:, None]
            cols = np.where(keep, cols, -1)
            for j in range(1, 4):  # drop what is still repeated, keep parents left-aligned
                for i in range(j):
                    cols[(cols[:, j] == cols[:, i]) & (cols[:, j] >= 0), j] = -1
            cols = np.take_along_axis(cols, np.argsort(cols < 0, axis=1, kind="stable"), axis=1)
            P[nodes] = cols
            ap[nodes] = cols[:, 0]
            prev_cand = nodes
        self.generic_nodes = gnodes
        # where each child's parents are announced (0 baseModels, 1 tags only, 2 cardData only)
        mode = np.zeros(T, dtype=np.int8)
        eligible = np.flatnonzero(((grp == G_GENERIC) | (grp == G_FAMILY)) & (P[:, 0] >= 0))
        if self.flux_cycle:
            eligible = np.setdiff1d(eligible, np.array(self.flux_cycle))
        u = rng.random(len(eligible))
        mode[eligible[u < 0.015]] = 1
        mode[eligible[(u >= 0.015) & (u < 0.03)]] = 2
        self.mode = mode
        self.counts = dict(
            n_children=n_children,
            n_generic=n_generic,
            n_multi=n_multi,
            n_unspec=n_unspec,
            fam_direct=fam_direct,
            fam_extra=fam_extra,
            chain_lengths=chain_lengths,
        )

    # -- attributes -----------------------------------------------------------
    def build_attributes(self) -> None:
        rng, T, N = self.rng, self.T, self.N
        P, rel, _grp, ap, level = self.P, self.rel, self.grp, self.ap, self.level
        len(NAMED)
        pipe = draw_codes(rng, ROOT_PIPE_P, PIPE, T).astype(np.int16)
        arch = np.full(T, -1, dtype=np.int16)
        lib = np.full(T, -1, dtype=np.int16)
        lic = draw_codes(rng, LICENSE_P, LIC, T).astype(np.int16)
        created = np.zeros(T, dtype=np.int64)

        # roots: pipeline-dependent arch and library
        roots = np.flatnonzero(ap < 0)
        for name, archs in PIPE_ARCHS.items():
            sel = roots[pipe[roots] == PIPE[name]]
            arch[sel] = np.array([A[a] for a in archs])[rng.integers(0, len(archs), len(sel))]
            libs, probs = PIPE_LIBS.get(name, DEFAULT_LIBS)
            lib[sel] = draw_codes(rng, dict(zip(libs, probs, strict=False)), L, len(sel))
        nopipe = roots[pipe[roots] < 0]
        lib[nopipe] = draw_codes(
            rng,
            {"transformers": 0.35, "pytorch": 0.05, "keras": 0.02, "diffusers": 0.02, "onnx": 0.01},
            L,
            len(nopipe),
        )
        arch[nopipe] = np.where(
            rng.random(len(nopipe)) < 0.4, rng.integers(0, len(ARCHS), len(nopipe)), -1
        )
        # creation times of roots: exponential growth of the Hub, some legacy models
        k = np.log(12.0)  # about x12 over the period
        u = rng.random(len(roots))
        frac = np.log1p(u * (np.exp(k) - 1.0)) / k
        start = HUB_LEGACY + DAY_US
        created[roots] = start + (frac * (SNAPSHOT - start - 30 * DAY_US)).astype(np.int64)
        legacy = roots[rng.random(len(roots)) < 0.05]
        created[legacy] = HUB_LEGACY + rng.integers(0, 2, len(legacy)) * 1_000_000

        for f, spec in enumerate(NAMED):
            pipe[f], lib[f], arch[f], lic[f] = PIPE[spec[1]], L[spec[2]], A[spec[3]], LIC[spec[4]]
            created[f] = np.datetime64(spec[5] + "T10:00:00", "us").astype(np.int64)
            if spec[0].startswith("distilbert/"):
                created[f] = HUB_LEGACY
        for i, (_pid, ptag, parch) in zip(self.popular_idx, POPULAR, strict=False):
            pipe[i], arch[i] = PIPE[ptag], A[parch]
            lib[i] = L["transformers"] if ptag not in ("text-to-image",) else L["diffusers"]
            if ptag in ("sentence-similarity",):
                lib[i] = L["sentence-transformers"]

        # children in level order
        child_levels = np.unique(level[ap >= 0])
        children = np.flatnonzero(ap >= 0)
        order = children[np.argsort(level[children], kind="stable")]
        bounds = np.searchsorted(level[order], child_levels, side="left")
        bounds = np.append(bounds, len(order))
        # family-specific pipelines for direct children of named roots
        fam_pipe = np.full(T, -2, dtype=np.int16)
        for f, spec in enumerate(NAMED):
            kids = self.fam_nodes[f]
            kids = kids[P[kids, 0] == f]
            fam_pipe[kids] = draw_codes(rng, {k: v for k, v in spec[11].items()}, PIPE, len(kids))
        for b0, b1 in itertools.pairwise(bounds):
            nodes = order[b0:b1]
            par = ap[nodes]
            n = len(nodes)
            inherit = rng.random(n) < 0.92
            fresh = draw_codes(rng, ROOT_PIPE_P, PIPE, n)
            pipe[nodes] = np.where(inherit, pipe[par], fresh)
            fp = fam_pipe[nodes]
            pipe[nodes] = np.where(fp != -2, fp, pipe[nodes])
            arch[nodes] = arch[par]
            lic[nodes] = np.where(rng.random(n) < 0.7, lic[par], lic[nodes])
            # library from relation
            r = rel[nodes]
            plib = lib[par]
            image = np.isin(pipe[nodes], list(IMAGE_PIPES))
            newlib = np.where(
                (plib == L["gguf"]) | (plib == L["peft"]) | (plib == L["mlx"]),
                L["transformers"],
                plib,
            )
            u = rng.random(n)
            qlib = np.where(u < 0.55, L["gguf"], np.where(u < 0.88, L["transformers"], L["mlx"]))
            qlib = np.where(image, np.where(u < 0.5, L["gguf"], L["diffusers"]), qlib)
            alib = np.where(image, L["diffusers"], np.where(u < 0.9, L["peft"], -1))
            newlib = np.where(r == QU, qlib, np.where(r == AD, alib, newlib))
            lib[nodes] = newlib
            # created after all parents
            pp = P[nodes]
            ptime = np.where(pp >= 0, created[np.maximum(pp, 0)], 0).max(axis=1)
            ptime = np.maximum(ptime, created[par])
            span = np.maximum(SNAPSHOT - ptime, DAY_US)
            created[nodes] = ptime + (rng.random(n) ** 3 * span).astype(np.int64) + 60_000_000
        np.minimum(created, SNAPSHOT - 1_000_000, out=created)
        created -= created % 1_000_000  # the dump has second precision
        self.pipe, self.arch, self.lib, self.lic, self.created = pipe, arch, lib, lic, created
        self.modified = created + ((rng.random(T) ** 4) * (SNAPSHOT - created)).astype(np.int64)
        self.modified -= self.modified % 1_000_000

        # parameter totals
        textgen = np.isin(pipe, [PIPE["text-generation"], PIPE["image-text-to-text"]])
        image = np.isin(pipe, list(IMAGE_PIPES))
        logp = np.where(
            textgen,
            rng.normal(np.log(3e9), 1.1, T),
            np.where(image, rng.normal(np.log(2.5e9), 0.8, T), rng.normal(np.log(1.2e8), 1.0, T)),
        )
        params = np.exp(logp)
        for b0, b1 in itertools.pairwise(bounds):
            nodes = order[b0:b1]
            params[nodes] = params[ap[nodes]] * rng.uniform(0.98, 1.02, len(nodes))
        adapters = rel == AD
        params[adapters] = np.exp(rng.normal(np.log(2e7), 1.2, int(adapters.sum())))
        self.params = np.maximum(params, 1e4).astype(np.int64)
        self.has_gguf = lib == L["gguf"]
        self.has_st = (
            (~self.has_gguf)
            & np.isin(
                lib,
                [
                    L[x]
                    for x in (
                        "transformers",
                        "diffusers",
                        "peft",
                        "sentence-transformers",
                        "timm",
                        "mlx",
                        "setfit",
                    )
                ],
            )
            & (rng.random(T) < 0.8)
        )
        self.st_dtype = rng.choice([0, 1, 8], size=T, p=[0.55, 0.25, 0.20])  # BF16, F32, F16

        # downloads / likes / trending
        outdeg = np.bincount(P[P >= 0], minlength=T)
        self.outdeg = outdeg
        zero = rng.random(T) < 0.45
        base = np.exp(rng.normal(1.6, 2.0, T))
        base = np.where(zero, 0.0, base)
        boost = np.power(1.0 + outdeg, 0.9) * np.exp(rng.normal(0.0, 0.5, T))
        dl = np.where(outdeg > 0, np.maximum(base, 5.0) * boost, base)
        pop_rank = np.arange(len(self.popular_idx))
        dl[self.popular_idx] = 4_000_000 / (1.0 + pop_rank) ** 0.7
        for f, spec in enumerate(NAMED):
            dl[f] = spec[6]
        dl = np.minimum(dl, 6e7).astype(np.int64)
        age_days = (SNAPSHOT - created) / DAY_US
        alltime = (
            dl
            + (dl * rng.uniform(0.3, 1.0, T) * np.sqrt(np.maximum(age_days, 1) / 30)).astype(
                np.int64
            )
            + rng.integers(0, 40, T)
        )
        likes = np.where(
            rng.random(T) < 0.42,
            np.exp(rng.normal(0, 1.3, T)) * np.power(dl + 1.0, 0.38) * 0.35,
            0.0,
        )
        likes = likes.astype(np.int64)
        for f, spec in enumerate(NAMED):
            likes[f] = spec[7]
        likes[self.popular_idx] = np.maximum(likes[self.popular_idx], 500)
        recent = (SNAPSHOT - self.modified) < 60 * DAY_US
        trending = np.where(
            recent & (likes > 2) & (rng.random(T) < 0.5),
            np.round(likes * rng.uniform(0.01, 0.3, T)),
            0.0,
        )
        self.downloads, self.alltime, self.likes, self.trending = dl, alltime, likes, trending

        # datasets (Zipf pool) on ~7 % of rows, more often on finetunes
        pool_size = max(500, round(0.04 * N))
        p_ds = np.where(rel == FT, 0.16, np.where(rel == ROOT, 0.055, 0.04))
        has_ds = rng.random(T) < p_ds
        nds = np.where(has_ds, rng.choice([1, 2, 3], size=T, p=[0.62, 0.26, 0.12]), 0)
        ranks = np.arange(1, pool_size + 1)
        cdf = cdf_of(1.0 / (ranks + 2.0) ** 1.1)
        ds = draw(rng, cdf, T * 3).reshape(T, 3).astype(np.int32)
        ds = np.where(np.arange(3)[None, :] < nds[:, None], ds, -1)
        ds[:, 1] = np.where(ds[:, 1] == ds[:, 0], -1, ds[:, 1])
        ds[:, 2] = np.where((ds[:, 2] == ds[:, 0]) | (ds[:, 2] == ds[:, 1]), -1, ds[:, 2])
        self.ds = ds
        self.ds_pool = pool_size

    # -- names ----------------------------------------------------------------
    def build_names(self) -> None:
        rng, T, N = self.rng, self.T, self.N
        _P, rel, grp, ap = self.P, self.rel, self.grp, self.ap
        n_named = len(NAMED)
        s = self.s
        # authors: fixed publishers + a Zipf-distributed long tail of synthetic handles
        fixed_names = sorted(
            {x.split("/")[0] for x, *_ in NAMED} | {x.split("/")[0] for x, *_ in POPULAR}
        )
        quant = [(a, scaled(c, s, 1)) for a, c in QUANTIZERS]
        big = [(a, scaled(c, s, 1)) for a, c in BIG_PUBLISHERS]
        n_syn = max(1000, int(0.28 * N))
        reserved = set(fixed_names) | {a for a, _ in quant} | {a for a, _ in big}
        syn = author_handles(rng, n_syn, reserved)
        head = list(dict.fromkeys(fixed_names + [a for a, _ in quant] + [a for a, _ in big]))
        authors = head + syn
        aidx = {a: i for i, a in enumerate(authors)}
        author = np.full(T, -1, dtype=np.int32)
        # quantized children: ~45 % by a quantization publisher
        qn = np.flatnonzero((rel == QU) & (grp != G_NAMED))
        pick = qn[rng.random(len(qn)) < 0.45]
        qcdf = cdf_of([c for _, c in quant])
        author[pick] = np.array([aidx[a] for a, _ in quant])[draw(rng, qcdf, len(pick))]
        # the big non-quantizer publishers: a fixed number of random rows each
        free = np.flatnonzero(author < 0)
        want = sum(c for _, c in big)
        chosen = rng.choice(free, size=min(want, len(free) // 10), replace=False)
        reps = np.repeat([aidx[a] for a, _ in big], [c for _, c in big])[: len(chosen)]
        author[chosen] = reps
        # everyone else: Zipf over synthetic handles (rank offset keeps the head realistic)
        rest = np.flatnonzero(author < 0)
        syn0 = aidx[syn[0]]
        ranks = np.arange(1, len(syn) + 1)
        author[rest] = syn0 + draw(rng, cdf_of(1.0 / (ranks + 25.0) ** 0.9), len(rest))
        # chains: one author per chain
        for _root, nodes in self.chains:
            author[nodes] = author[nodes[0]]
        for f, spec in enumerate(NAMED):
            author[f] = aidx[spec[0].split("/")[0]]
        for i, spec in zip(self.popular_idx, POPULAR, strict=False):
            author[i] = aidx[spec[0].split("/")[0]]
        self.authors, self.author = authors, author

        # model names (part after "/"); children derive theirs from the attribute parent
        names: list[str | None] = [None] * T
        words = WORDS
        nw = len(words)
        wi = rng.integers(0, nw, size=(T, 3))
        shape = rng.integers(0, 6, size=T)
        ver = rng.integers(1, 10, size=T)
        stems = [st for _, st in ARCHS]
        stem_pick = rng.integers(0, 5, size=T)
        arch = self.arch
        for f, spec in enumerate(NAMED):
            names[f] = spec[0].split("/", 1)[1]
        for i, spec in zip(self.popular_idx, POPULAR, strict=False):
            names[i] = spec[0].split("/", 1)[1]
        suffix_lists = {
            QU: QUANT_SUFFIX,
            AD: ADAPTER_SUFFIX,
            ME: MERGE_SUFFIX,
            FT: FINETUNE_SUFFIX,
            UN: FINETUNE_SUFFIX,
        }
        level = self.level
        order = np.argsort(level, kind="stable")
        chain_member = np.zeros(T, dtype=bool)
        for _, nodes in self.chains:
            chain_member[nodes] = True
        w0_l, w1_l, w2_l = wi[:, 0].tolist(), wi[:, 1].tolist(), wi[:, 2].tolist()
        del wi
        shape_l, ver_l, stem_l = shape.tolist(), ver.tolist(), stem_pick.tolist()
        arch_l, ap_l, rel_l = arch.tolist(), ap.tolist(), rel.tolist()
        for i in order.tolist():
            if names[i] is not None:
                continue
            w = (w0_l[i], w1_l[i], w2_l[i])
            sh = shape_l[i]
            a = arch_l[i]
            p = ap_l[i]
            if p < 0 or chain_member[i]:
                if chain_member[i] and p >= 0:
                    base = names[p] if not chain_member[p] else names[p].rsplit("-gen", 1)[0]
                    names[i] = f"{base[:40]}-gen{level[i]}"
                    continue
                st = stems[a][stem_l[i] % len(stems[a])] if a >= 0 else words[w[2]]
                if sh == 0:
                    names[i] = f"{st}-{words[w[0]]}"
                elif sh == 1:
                    names[i] = f"{st}-finetuned-{words[w[0]]}-{words[w[1]]}"
                elif sh == 2:
                    names[i] = f"{words[w[0]]}-{words[w[1]]}-v{ver_l[i]}"
                elif sh == 3:
                    names[i] = f"{words[w[0]]}-{st}"
                elif sh == 4:
                    names[i] = f"{st}-{words[w[0]]}-{words[w[1]]}"
                else:
                    names[i] = f"{words[w[0]]}{words[w[1]]}-{ver_l[i]}"
                continue
            r = rel_l[i]
            sl = suffix_lists[r]
            parent = names[p][:40]
            if sh <= 3:
                names[i] = f"{parent}-{sl[w[2] % len(sl)]}"
                if sh >= 2:
                    names[i] = f"{parent}-{words[w[0]]}-{sl[w[2] % len(sl)]}"
            elif sh == 4:
                names[i] = f"{words[w[0]]}-{words[w[1]]}-{sl[w[2] % len(sl)]}"
            else:
                names[i] = f"{parent}-{words[w[0]]}{ver_l[i]}"
        author_arr = pa.array(authors, pa.string())
        full = pc.binary_join_element_wise(
            pc.take(author_arr, pa.array(author)), pa.array(names, pa.string()), "/"
        )
        del names
        # unique case-insensitively: suffix "-2", "-3", ... on later duplicates
        protected = np.zeros(T, dtype=bool)
        protected[:n_named] = True
        protected[self.popular_idx] = True
        for _ in range(5):
            low = pc.utf8_lower(full)
            codes = np.asarray(low.dictionary_encode().indices)
            srt = np.argsort(codes + np.where(protected, 0, 0.5), kind="stable")
            cs = codes[srt]
            start = np.r_[True, cs[1:] != cs[:-1]]
            first = np.maximum.accumulate(np.where(start, np.arange(T), 0))
            rank = np.empty(T, dtype=np.int64)
            rank[srt] = np.arange(T) - first
            dups = np.flatnonzero(rank > 0)
            if len(dups) == 0:
                break
            vocab = [""] + [f"-{k + 1}" for k in range(1, int(rank.max()) + 1)]
            full = join(full, take_str(vocab, rank))
        self.ids = full
        self.author_of = pc.take(author_arr, pa.array(author))
        self.oid = hex_ids(rng, self.created)
        # dataset ids
        ds_names = list(FAMOUS_DATASETS)
        dn = self.ds_pool - len(ds_names)
        da = rng.integers(0, len(syn), dn)
        dw = rng.integers(0, nw, size=(dn, 2))
        kinds = ["dataset", "data", "corpus", "instructions", "pairs", "sft", "dpo", "eval", "v2"]
        dk = rng.integers(0, len(kinds), dn)
        seen = {x.lower() for x in ds_names}
        for j in range(dn):
            nm = f"{syn[da[j]]}/{words[dw[j, 0]]}-{words[dw[j, 1]]}-{kinds[dk[j]]}"
            if nm.lower() in seen:
                nm = f"{nm}-{j}"
            seen.add(nm.lower())
            ds_names.append(nm)
        self.ds_names = pa.array(ds_names, pa.string())

    # -- writing --------------------------------------------------------------
    def write(self, out: Path, schema: pa.Schema, row_group: int, compression: str) -> None:
        rng, _T, N = self.rng, self.T, self.N
        emit = np.flatnonzero(self.grp != G_GHOST)
        assert len(emit) == N
        emit = emit[rng.permutation(N)]  # real dumps are not in generation order
        f_tags = schema.field("tags").type
        f_st = schema.field("safetensors").type
        f_bm = schema.field("baseModels").type
        f_params = f_st.field("parameters").type
        dt_names = [f.name for f in f_params]
        with pq.ParquetWriter(str(out), schema, compression=compression) as w:
            for b in range(0, N, row_group):
                rows = emit[b : b + row_group]
                w.write_table(
                    self.chunk(rows, schema, f_tags, f_st, f_bm, f_params, dt_names),
                    row_group_size=row_group,
                )

    def chunk(self, rows, schema, f_tags, f_st, f_bm, f_params, dt_names) -> pa.Table:
        rng = self.rng
        n = len(rows)
        P = self.P[rows]
        mode = self.mode[rows]
        rel = self.rel[rows]
        has_p = P >= 0
        nparents = has_p.sum(axis=1)
        ids = pc.take(self.ids, pa.array(rows))
        pipe = take_str(PIPELINES, self.pipe[rows])
        lib = take_str(LIBRARIES, self.lib[rows])
        lic = take_str(LICENSES, self.lic[rows])
        arch = take_str([a for a, _ in ARCHS], self.arch[rows])
        relstr = take_str(
            ["", "finetune", "adapter", "quantized", "merge", ""],
            np.where(rel == UN, -1, rel).astype(np.int64),
        )
        relstr = pc.if_else(pa.array(rel == ROOT), pa.scalar(None, pa.string()), relstr)
        # parent id strings per slot (null where no parent)
        pid = [
            pc.take(self.ids, pa.array(np.maximum(P[:, j], 0), mask=~has_p[:, j])) for j in range(4)
        ]
        # -- baseModels
        bm_rows = (nparents > 0) & (mode == 0)
        flatP = P[bm_rows[:, None] & has_p]
        counts = np.where(bm_rows, nparents, 0)
        offsets = np.zeros(n + 1, dtype=np.int32)
        np.cumsum(counts, out=offsets[1:])
        mstruct = pa.StructArray.from_arrays(
            [pc.take(self.oid, pa.array(flatP)), pc.take(self.ids, pa.array(flatP))],
            fields=list(f_bm.field("models").type.value_type),
        )
        models = pa.ListArray.from_arrays(
            pa.array(offsets), mstruct, type=f_bm.field("models").type
        )
        base_models = pa.StructArray.from_arrays(
            [relstr, models], fields=list(f_bm), mask=pa.array(~bm_rows)
        )
        # -- tags
        slots = []
        slots.append(lib)
        st_mask = self.has_st[rows]
        gg_mask = self.has_gguf[rows]
        fmt = np.where(st_mask, 0, np.where(gg_mask & (self.lib[rows] != L["gguf"]), 1, -1))
        slots.append(take_str(["safetensors", "gguf"], fmt))
        slots.append(arch)
        slots.append(pipe)
        u = rng.random((n, 4))
        ke = len(EXTRA_TAGS)
        e0 = rng.integers(0, ke, n)
        step = rng.integers(1, ke // 3, n)
        for j in range(3):  # three distinct free-form tags at most
            slots.append(
                take_str(EXTRA_TAGS, np.where(u[:, j] < 0.6 - 0.15 * j, (e0 + j * step) % ke, -1))
            )
        lang = rng.integers(0, len(LANGS), size=(n, 2))
        lang[:, 1] = (lang[:, 0] + 1 + lang[:, 1] % (len(LANGS) - 1)) % len(LANGS)
        slots.append(take_str(LANGS, np.where(u[:, 3] < 0.35, lang[:, 0], -1)))
        slots.append(take_str(LANGS, np.where(u[:, 3] < 0.08, lang[:, 1], -1)))
        ds = self.ds[rows]
        ds_str = [
            pc.take(self.ds_names, pa.array(np.maximum(ds[:, j], 0), mask=ds[:, j] < 0))
            for j in range(3)
        ]
        for j in range(3):
            slots.append(join("dataset", ds_str[j], sep=":"))
        tag_rows = (mode == 0) | (mode == 1)
        for j in range(4):
            m = pa.array(tag_rows & has_p[:, j])
            plain = pc.if_else(m, join("base_model", pid[j], sep=":"), pa.scalar(None, pa.string()))
            typed = pc.if_else(
                m, join("base_model", relstr, pid[j], sep=":"), pa.scalar(None, pa.string())
            )
            slots.append(plain)
            slots.append(typed)
        yymm = rng.integers(17, 27, n) * 100 + rng.integers(1, 13, n)
        arxiv = join(
            "arxiv:",
            pc.cast(pa.array(yymm), pa.string()),
            ".",
            pc.utf8_lpad(
                pc.cast(pa.array(rng.integers(1, 19_999, n)), pa.string()), width=5, padding="0"
            ),
        )
        slots.append(pc.if_else(pa.array(rng.random(n) < 0.1), arxiv, pa.scalar(None, pa.string())))
        slots.append(join("license", lic, sep=":"))
        slots.append(
            pc.if_else(
                pa.array((self.lib[rows] == L["transformers"]) & (u[:, 0] < 0.7)),
                pa.scalar("endpoints_compatible"),
                pa.scalar(None, pa.string()),
            )
        )
        slots.append(
            pc.if_else(
                pa.array(u[:, 1] < 0.995), pa.scalar("region:us"), pa.scalar(None, pa.string())
            )
        )
        M = len(slots)
        big = pa.concat_arrays([s.cast(pa.string()) for s in slots])
        idx = (np.arange(n)[:, None] + np.arange(M)[None, :] * n).ravel()
        valid = np.stack([np.asarray(s.is_valid()) for s in slots], axis=1)
        vals = pc.drop_null(pc.take(big, pa.array(idx)))
        toff = np.zeros(n + 1, dtype=np.int32)
        np.cumsum(valid.sum(axis=1), out=toff[1:])
        tags = pa.ListArray.from_arrays(pa.array(toff), vals, type=f_tags)
        # -- cardData (JSON text built by concatenation; ids never need escaping)
        none = pa.scalar(None, pa.string())
        cu = rng.random((n, 8))
        parts = []
        parts.append(pc.if_else(pa.array(cu[:, 0] < 0.93), join(', "license": "', lic, '"'), none))
        parts.append(
            pc.if_else(pa.array(cu[:, 1] < 0.4), join(', "library_name": "', lib, '"'), none)
        )
        parts.append(
            pc.if_else(
                pa.array(cu[:, 2] < 0.3),
                join(', "language": ["', take_str(LANGS, lang[:, 0]), '"]'),
                none,
            )
        )
        parts.append(
            pc.if_else(pa.array(cu[:, 3] < 0.3), join(', "pipeline_tag": "', pipe, '"'), none)
        )
        card_tags = take_str(CARD_TAGS, rng.integers(0, len(CARD_TAGS), n))
        parts.append(pc.if_else(pa.array(cu[:, 4] < 0.55), join(', "tags": ', card_tags), none))
        # base_model as named in the card: sometimes lower-cased, legacy aliases
        card_rows = ((mode == 0) & (cu[:, 5] < 0.97)) | (mode == 2)
        cpid = []
        for j in range(4):
            v = pid[j]
            if j == 0:
                lower = pa.array((cu[:, 6] < 0.005) & (mode == 0))
                v = pc.if_else(lower, pc.utf8_lower(v), v)
                for real, alias in LEGACY_ALIAS.items():
                    hit = pa.array(
                        pc.fill_null(pc.equal(v, real), False).to_numpy(zero_copy_only=False)
                        & (cu[:, 7] < 0.7)
                    )
                    v = pc.if_else(hit, pa.scalar(alias), v)
            cpid.append(v)
        listed = join_skip(*cpid, sep='", "')
        as_list = pa.array((nparents > 1) | (cu[:, 7] < 0.6))
        bm_json = pc.if_else(
            as_list,
            join(', "base_model": ["', listed, '"]'),
            join(', "base_model": "', listed, '"'),
        )
        parts.append(pc.if_else(pa.array(card_rows & (nparents > 0)), bm_json, none))
        decl = pa.array(card_rows & (nparents > 0) & (rng.random(n) < 0.1) & (rel != UN))
        parts.append(pc.if_else(decl, join(', "base_model_relation": "', relstr, '"'), none))
        dlist = join_skip(*ds_str, sep='", "')
        parts.append(
            pc.if_else(pa.array(ds[:, 0] >= 0), join(', "datasets": ["', dlist, '"]'), none)
        )
        body = pc.binary_join_element_wise(*parts, "", null_handling="replace", null_replacement="")
        card = join("{", pc.utf8_slice_codeunits(body, 2), "}")
        # no card at all on ~1.5 % of rows (never where the card is the only parent source)
        card = pc.if_else(pa.array((rng.random(n) < 0.015) & (mode != 2)), none, card)
        # -- safetensors
        params = self.params[rows]
        dtype = self.st_dtype[rows]
        f32_part = np.where((dtype != 1) & (rng.random(n) < 0.2), params // 50, 0)
        main = params - f32_part
        cols = []
        for _k, name in enumerate(dt_names):
            if name == "BF16":
                v, m = main, dtype != 0
            elif name == "F32":
                v = np.where(dtype == 1, main, f32_part)
                m = ~((dtype == 1) | (f32_part > 0))
            elif name == "F16":
                v, m = main, dtype != 8
            else:
                v, m = np.zeros(n, np.int64), np.ones(n, bool)
            cols.append(pa.array(v, pa.int64(), mask=m))
        pstruct = pa.StructArray.from_arrays(cols, fields=list(f_params))
        safet = pa.StructArray.from_arrays(
            [pstruct, pa.array(params, pa.int64())], fields=list(f_st), mask=pa.array(~st_mask)
        )
        # -- gguf (JSON text)
        ctx = np.array([2048, 4096, 8192, 32768, 131072])[rng.integers(0, 5, n)]
        gg = join(
            '{"total": ',
            pc.cast(pa.array(params), pa.string()),
            ', "architecture": "',
            pc.fill_null(arch, "llama"),
            '", "context_length": ',
            pc.cast(pa.array(ctx), pa.string()),
            ', "bos_token": "<s>", "eos_token": "</s>"}',
        )
        gg = pc.if_else(pa.array(gg_mask), gg, none)
        arrays = {
            "id": ids,
            "author": pc.take(self.author_of, pa.array(rows)),
            "createdAt": pa.array(self.created[rows], pa.timestamp("us")),
            "lastModified": pa.array(self.modified[rows], pa.timestamp("us")),
            "downloads": pa.array(self.downloads[rows], pa.int64()),
            "downloadsAllTime": pa.array(self.alltime[rows], pa.int64()),
            "likes": pa.array(self.likes[rows], pa.int64()),
            "trendingScore": pa.array(self.trending[rows], pa.float64()),
            "tags": tags,
            "cardData": card,
            "safetensors": safet,
            "gguf": gg,
            "baseModels": base_models,
            "pipeline_tag": pipe,
            "library_name": lib,
        }
        return pa.Table.from_arrays([arrays[f.name].cast(f.type) for f in schema], schema=schema)

    # -- sidecar --------------------------------------------------------------
    def summary(self) -> dict:
        from scipy.sparse import csr_matrix
        from scipy.sparse.csgraph import breadth_first_order

        T, P, rel, mode = self.T, self.P, self.rel, self.mode
        ids = self.ids
        is_ghost = self.grp == G_GHOST
        ch, slot = np.nonzero(P >= 0)
        par = P[ch, slot]
        via_bm = mode[ch] == 0
        links = {}
        for c, k in (
            (FT, "finetune"),
            (AD, "adapter"),
            (QU, "quantized"),
            (ME, "merge"),
            (UN, "unspecified"),
        ):
            links[k] = int(((rel[ch] == c) & via_bm).sum())

        def reach(edges_from, edges_to, start):
            g = csr_matrix(
                (np.ones(len(edges_from), np.int8), (edges_from, edges_to)), shape=(T, T)
            )
            nodes = breadth_first_order(g, start, directed=True, return_predecessors=False)
            return len(nodes) - 1

        root = 0
        deepest_root, deepest_nodes = self.chains[0]
        deepest = int(deepest_nodes[-1])
        rows_with_parent = np.zeros(T, bool)
        rows_with_parent[ch] = True
        bm_child = np.zeros(T, bool)
        bm_child[ch[via_bm]] = True
        n_par = (P >= 0).sum(axis=1)
        name = lambda i: ids[int(i)].as_py()  # noqa: E731
        ghost_refs = is_ghost[par]
        return {
            "models": int(self.N),
            "seed": self.seed,
            "largest_family_root": name(root),
            "largest_family_direct_children": int((P[:, :] == root).any(axis=1).sum()),
            "largest_family_descendants": reach(par, ch, root),
            "largest_family_descendants_baseModels_only": reach(par[via_bm], ch[via_bm], root),
            "deepest_model": name(deepest),
            "deepest_chain_links": len(deepest_nodes),
            "deepest_chain_root": name(deepest_root),
            "deepest_model_ancestors": reach(ch, par, deepest),
            "long_chains": [
                {"root": name(r), "leaf": name(nodes[-1]), "links": len(nodes)}
                for r, nodes in self.chains
            ],
            "cycles": ([[name(x) for x in self.flux_cycle]] if self.flux_cycle else [])
            + [[name(x) for x in c] for c in self.cycles[:6]],
            "cycle_in_largest_family": [name(x) for x in self.flux_cycle]
            if self.flux_cycle
            else None,
            "self_loops": [name(x) for x in self.self_loops[:5]],
            "counts": {
                "rows": int(self.N),
                "links_total": len(ch),
                "links_in_baseModels": int(via_bm.sum()),
                "links_by_relation_baseModels": links,
                "links_tags_only": int((mode[ch] == 1).sum()),
                "links_cardData_only": int((mode[ch] == 2).sum()),
                "models_with_parent": int(rows_with_parent.sum()),
                "models_with_parent_baseModels": int(bm_child.sum()),
                "models_with_several_parents": int((n_par > 1).sum()),
                "links_to_absent_parents": int(ghost_refs.sum()),
                "absent_parents_referenced": len(np.unique(par[ghost_refs])),
                "self_loops": len(self.self_loops),
                "cycles": len(self.cycles) + (1 if self.flux_cycle else 0),
                "rows_with_datasets": int((self.ds[~is_ghost, 0] >= 0).sum()),
                "rows_with_safetensors": int(self.has_st[~is_ghost].sum()),
                "rows_with_gguf": int(self.has_gguf[~is_ghost].sum()),
                "authors_used": len(np.unique(self.author[~is_ghost])),
            },
            "named_parents_direct_children": {
                spec[0]: int((f == P).any(axis=1).sum()) for f, spec in enumerate(NAMED)
            },
            "legacy_aliases": LEGACY_ALIAS,
            "popular_ids": [name(i) for i in self.popular_idx],
        }


def top_publishers(author: np.ndarray, authors: list[str], mask: np.ndarray, k: int = 10):
    a, c = np.unique(author[mask], return_counts=True)
    o = np.argsort(-c)[:k]
    return [[authors[int(a[i])], int(c[i])] for i in o]


def generator_sha() -> str:
    """Fingerprint of this generator, so that runners can tell a stale dump."""
    import hashlib

    return hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:16]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", type=int, required=True, help="number of rows (models)")
    ap.add_argument("--out", type=Path, required=True, help="output parquet path")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--row-group", type=int, default=131_072)
    ap.add_argument("--compression", default="snappy")
    ap.add_argument(
        "--schema-from",
        default=str(SAMPLE_PARQUET),
        help="parquet file whose schema is copied ('builtin' for the embedded copy)",
    )
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    schema, schema_source = hub_schema(args.schema_from)
    builtin, _ = hub_schema("builtin")
    if not builtin.equals(schema):
        print(
            "warning: sample schema differs from the embedded copy; using the sample's",
            file=sys.stderr,
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    g = Synth(args.models, args.seed)
    steps = {}
    for step in ("build_structure", "build_attributes", "build_names"):
        t = time.perf_counter()
        getattr(g, step)()
        steps[step] = round(time.perf_counter() - t, 2)
        steps[step + "_peak_rss_mb"] = round(
            resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1
        )
    t = time.perf_counter()
    tmp = args.out.with_name(args.out.name + ".tmp")
    g.write(tmp, schema, args.row_group, args.compression)
    tmp.replace(args.out)
    steps["write"] = round(time.perf_counter() - t, 2)
    t = time.perf_counter()
    meta = g.summary()
    not_ghost = g.grp != G_GHOST
    meta["largest_publishers"] = top_publishers(g.author, g.authors, not_ghost)
    lic_c = np.bincount(g.lic[not_ghost][g.lic[not_ghost] >= 0], minlength=len(LICENSES))
    meta["licences_top"] = {LICENSES[i]: int(lic_c[i]) for i in np.argsort(-lic_c)[:5]}
    pc_ = np.bincount(g.pipe[not_ghost][g.pipe[not_ghost] >= 0], minlength=len(PIPELINES))
    meta["pipeline_tags_top"] = {PIPELINES[i]: int(pc_[i]) for i in np.argsort(-pc_)[:5]}
    steps["summary"] = round(time.perf_counter() - t, 2)
    meta["schema_source"] = schema_source
    meta["generator_sha256"] = generator_sha()
    meta["generation_seconds"] = round(time.perf_counter() - t0, 2)
    meta["generation_steps_seconds"] = steps
    meta["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    meta["parquet"] = str(args.out)
    meta["parquet_bytes"] = args.out.stat().st_size
    meta_path = Path(str(args.out) + ".meta.json")
    meta_path.write_text(json.dumps(meta, indent=2) + "\n")
    print(
        json.dumps(
            {
                k: meta[k]
                for k in (
                    "models",
                    "largest_family_root",
                    "largest_family_descendants",
                    "deepest_model",
                    "deepest_chain_links",
                    "generation_seconds",
                    "peak_rss_mb",
                    "parquet_bytes",
                )
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
