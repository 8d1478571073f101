"""Tiny Marian models built offline, in the opus-mt folder layout, for the neural engines.

The weights are random, so the output is gibberish, but every file a real opus-mt model has is
there and is read by the engines' real loading and generation code.
"""

from __future__ import annotations

import io
import json
import warnings
from pathlib import Path

SENTENCES = [
    "Good morning, how are you today?",
    "The cat is on the table.",
    "I have a small house near the river.",
    "We will travel to Spain next summer.",
    "Buenos días, ¿cómo estás hoy?",
    "El gato está en la mesa.",
    "Tengo una casa pequeña cerca del río.",
    "Viajaremos a España el próximo verano.",
]


def _train_spm(path: Path, vocab_size: int) -> None:
    import sentencepiece as spm

    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(SENTENCES * 3),
        model_writer=model,
        vocab_size=vocab_size,
        model_type="unigram",
        character_coverage=1.0,
        hard_vocab_limit=False,
        unk_id=0,
        bos_id=-1,
        eos_id=-1,
        pad_id=-1,
        minloglevel=2,
    )
    path.write_bytes(model.getvalue())


def build_marian(folder: Path, seed: int = 0) -> Path:
    """Saves a randomly initialised two-layer Marian model and its tokenizer in ``folder``.

    Returns:
        ``folder``, holding config.json, model.safetensors, generation_config.json,
        source.spm, target.spm, vocab.json and the tokenizer's config.
    """
    import sentencepiece as spm
    import torch
    from transformers import MarianConfig, MarianMTModel, MarianTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    folder.mkdir(parents=True, exist_ok=True)
    pieces: set[str] = set()
    for side in ("source", "target"):
        _train_spm(folder / f"{side}.spm", vocab_size=60)
        processor = spm.SentencePieceProcessor(model_file=str(folder / f"{side}.spm"))
        pieces |= {processor.id_to_piece(i) for i in range(processor.get_piece_size())}
    tokens = ["</s>", "<unk>", *sorted(pieces - {"</s>", "<unk>"}), "<pad>"]
    vocab = {token: index for index, token in enumerate(tokens)}
    (folder / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "Recommended: pip install sacremoses"
        tokenizer = MarianTokenizer(
            str(folder / "source.spm"), str(folder / "target.spm"), str(folder / "vocab.json")
        )
    tokenizer.save_pretrained(folder)
    config = MarianConfig(
        vocab_size=len(vocab),
        d_model=16,
        encoder_layers=2,
        decoder_layers=2,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=32,
        decoder_ffn_dim=32,
        max_position_embeddings=512,
        pad_token_id=vocab["<pad>"],
        eos_token_id=vocab["</s>"],
        decoder_start_token_id=vocab["<pad>"],
        forced_eos_token_id=vocab["</s>"],
    )
    torch.manual_seed(seed)
    MarianMTModel(config).save_pretrained(folder)
    return folder


def convert_ct2(marian: Path, folder: Path) -> Path:
    """Converts a Marian folder with CTranslate2's converter (offline), copying the
    SentencePiece models next to the converted weights."""
    from ctranslate2.converters import TransformersConverter

    converter = TransformersConverter(str(marian), copy_files=["source.spm", "target.spm"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "Recommended: pip install sacremoses"
        converter.convert(str(folder), force=True)
    return folder
