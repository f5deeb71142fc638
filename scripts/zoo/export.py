"""Exports Kiln's model zoo: real architectures from torchvision, timm and transformers, with
fixed seeds, as their users export them (torch.onnx.export, opset 17).

Parameters get values like a trained network's before export: those that initialisation leaves
at one value everywhere (zero heads, layer scales of 1e-6, norms' ones and zeros) are drawn at
random, and batch norms get realistic statistics (random scales and shifts, then a few random
batches in training mode), so that no batch norm is the identity, no branch vanishes, and deep
networks' outputs keep their magnitude (with fresh statistics they shrink towards 1e-9, and a
tolerance of 1e-4 proves nothing).

    python export.py OUT_DIR [--set public|extra|wide|all] [--only NAME,...] [--force]

Writes OUT_DIR/NAME.onnx for each model (skipping those already there unless --force) and
OUT_DIR/zoo.json, which lists every model of the set: its name, source and set.
"""

import argparse
import json
import os
import sys
import types
import warnings

# torchvision's compiled operators (nms, roi_align) may not match the installed torch; the
# architectures need none of them, so their registrations are skipped.
sys.modules.setdefault("torchvision._meta_registrations", types.ModuleType("torchvision._meta_registrations"))

import torch  # noqa: E402

warnings.filterwarnings("ignore")
OPSET = 17


def tv(name, **kw):
    def make():
        import torchvision

        return getattr(torchvision.models, name)(weights=None, **kw), [("input", (1, 3, 224, 224))]

    return make


def timm_model(name, size=None):
    def make():
        import timm

        model = timm.create_model(name, pretrained=False)
        c, h, w = model.pretrained_cfg.get("input_size", (3, 224, 224))
        return model, [("input", (1, c, size or h, size or w))]

    return make


def hf_encoder(kind, seq=64, **cfg):
    """A transformers encoder from its config (no download): token ids in, hidden states out."""

    def make():
        import transformers

        config = getattr(transformers, kind + "Config")(attn_implementation="eager", **cfg)
        return Logits(getattr(transformers, kind + "Model")(config)), [("input_ids", (1, seq), torch.int64)]

    return make


def hf_decoder(kind, seq=64, **cfg):
    """A decoder-only language model from its config: token ids in, logits out."""

    def make():
        import transformers

        config = getattr(transformers, kind + "Config")(attn_implementation="eager", use_cache=False, **cfg)
        return CausalLM(getattr(transformers, kind + "ForCausalLM")(config)), [("input_ids", (1, seq), torch.int64)]

    return make


def hf_vision(kind, size=224, **cfg):
    def make():
        import transformers

        config = getattr(transformers, kind + "Config")(attn_implementation="eager", **cfg) if kind != "Segformer" else transformers.SegformerConfig(**cfg)
        model = getattr(transformers, kind + "Model")(config)
        return Logits(model), [("pixel_values", (1, 3, size, size))]

    return make


def t5_encoder():
    from transformers import T5Config, T5EncoderModel

    cfg = T5Config(vocab_size=8000, d_model=256, num_layers=4, num_heads=4, d_ff=1024, d_kv=64, attn_implementation="eager")
    return Logits(T5EncoderModel(cfg)), [("input_ids", (1, 64), torch.int64)]


def wav2vec2():
    from transformers import Wav2Vec2Config, Wav2Vec2Model

    cfg = Wav2Vec2Config(hidden_size=256, num_hidden_layers=4, num_attention_heads=4, intermediate_size=1024, attn_implementation="eager")
    return Logits(Wav2Vec2Model(cfg)), [("input_values", (1, 16000))]


class Logits(torch.nn.Module):
    """A transformers model's first output only (its logits or last hidden state)."""

    def __init__(self, inner):
        super().__init__()
        self.inner = inner

    def forward(self, *args):
        out = self.inner(*args, return_dict=False)
        return out[0]


class CausalLM(torch.nn.Module):
    """A decoder's logits for one sequence of token ids, every token attended (mask of ones)."""

    def __init__(self, inner):
        super().__init__()
        self.inner = inner

    def forward(self, input_ids):
        return self.inner(input_ids, attention_mask=torch.ones_like(input_ids), return_dict=False)[0]


def bert():
    from transformers import BertConfig, BertModel

    cfg = BertConfig(hidden_size=256, num_hidden_layers=4, num_attention_heads=4, intermediate_size=1024, attn_implementation="eager")
    return Logits(BertModel(cfg)), [("input_ids", (1, 128), torch.int64)]


def gpt2():
    from transformers import GPT2Config, GPT2LMHeadModel

    cfg = GPT2Config(n_embd=256, n_layer=4, n_head=4, n_positions=64, vocab_size=8000, bos_token_id=0, eos_token_id=0, use_cache=False, attn_implementation="eager")
    return CausalLM(GPT2LMHeadModel(cfg)), [("input_ids", (1, 64), torch.int64)]


def whisper_encoder():
    from transformers import WhisperConfig, WhisperModel

    cfg = WhisperConfig(d_model=384, encoder_layers=4, decoder_layers=4, encoder_attention_heads=6, decoder_attention_heads=6,
                        encoder_ffn_dim=1536, decoder_ffn_dim=1536, num_mel_bins=80, attn_implementation="eager")
    return Logits(WhisperModel(cfg).get_encoder()), [("input_features", (1, 80, 3000))]


# The public zoo (its figures are in docs/model-zoo.md) and more architectures of the same
# families, which find what the public set misses.
MODELS = {
    "public": {
        "resnet18": tv("resnet18"),
        "resnet50": tv("resnet50"),
        "mobilenet_v2": tv("mobilenet_v2"),
        "mobilenet_v3_large": tv("mobilenet_v3_large"),
        "efficientnet_b0": tv("efficientnet_b0"),
        "squeezenet1_1": tv("squeezenet1_1"),
        "densenet121": tv("densenet121"),
        "googlenet": tv("googlenet", aux_logits=False, init_weights=True),
        "convnext_tiny": tv("convnext_tiny"),
        "swin_t": tv("swin_t"),
        "vit_tiny_patch16_224": timm_model("vit_tiny_patch16_224"),
        "bert_4l_256": bert,
        "gpt2_4l_256": gpt2,
        "whisper_tiny_encoder": whisper_encoder,
    },
    "extra": {
        "regnet_y_400mf": tv("regnet_y_400mf"),
        "regnet_x_400mf": tv("regnet_x_400mf"),
        "shufflenet_v2_x1_0": tv("shufflenet_v2_x1_0"),
        "mnasnet1_0": tv("mnasnet1_0"),
        "mobilenet_v3_small": tv("mobilenet_v3_small"),
        "resnext50_32x4d": tv("resnext50_32x4d"),
        "efficientnet_v2_s": tv("efficientnet_v2_s"),
        "inception_v3": lambda: (tv("inception_v3", aux_logits=False, init_weights=True)()[0], [("input", (1, 3, 299, 299))]),
        "deit_tiny_patch16_224": timm_model("deit_tiny_patch16_224"),
        "edgenext_xx_small": timm_model("edgenext_xx_small", 256),
        "mixer_s16_224": timm_model("mixer_s16_224"),
        "ghostnet_100": timm_model("ghostnet_100"),
        "dla34": timm_model("dla34"),
        "repvgg_a0": timm_model("repvgg_a0"),
    },
    # Wider still: more families, for finding what a class of network needs (not run by default).
    "wide": {
        **{n: timm_model(n) for n in [
            "levit_128s", "poolformer_s12", "mobilevit_xxs", "pvt_v2_b0", "resmlp_12_224", "efficientformer_l1",
            "cait_xxs24_224", "hrnet_w18_small", "res2net50_26w_4s", "rexnet_100", "lcnet_050", "coat_lite_tiny",
            "crossvit_tiny_240", "xcit_nano_12_p16_224", "gcvit_xxtiny", "fastvit_t8", "efficientvit_b0",
            "mobilenetv4_conv_small", "inception_next_tiny", "repvit_m0_9", "tiny_vit_5m_224", "hgnetv2_b0",
            "starnet_s1", "convnextv2_atto", "efficientvit_m0", "ese_vovnet19b_dw", "dpn68", "skresnet18",
            "resnest14d", "mixnet_s", "tf_efficientnet_lite0", "fbnetc_100",
            "deit3_small_patch16_224", "botnet26t_256", "davit_tiny", "focalnet_tiny_srf",
        ]},
        "roberta_4l": hf_encoder("Roberta", hidden_size=256, num_hidden_layers=4, num_attention_heads=4, intermediate_size=1024),
        "distilbert_4l": hf_encoder("DistilBert", dim=256, n_layers=4, n_heads=4, hidden_dim=1024),
        "albert_4l": hf_encoder("Albert", hidden_size=256, num_hidden_layers=4, num_attention_heads=4, intermediate_size=1024, embedding_size=128),
        "electra_small": hf_encoder("Electra", hidden_size=256, num_hidden_layers=4, num_attention_heads=4, intermediate_size=1024, embedding_size=128),
        "t5_encoder_4l": t5_encoder,
        "llama_4l": hf_decoder("Llama", vocab_size=8000, hidden_size=256, intermediate_size=688, num_hidden_layers=4, num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128),
        "qwen2_4l": hf_decoder("Qwen2", vocab_size=8000, hidden_size=256, intermediate_size=688, num_hidden_layers=4, num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128),
        "gpt_neox_4l": hf_decoder("GPTNeoX", vocab_size=8000, hidden_size=256, intermediate_size=1024, num_hidden_layers=4, num_attention_heads=4, max_position_embeddings=128),
        "opt_4l": hf_decoder("OPT", vocab_size=8000, hidden_size=256, ffn_dim=1024, num_hidden_layers=4, num_attention_heads=4, max_position_embeddings=128, word_embed_proj_dim=256),
        "clip_vision": hf_vision("CLIPVision", hidden_size=256, intermediate_size=1024, num_hidden_layers=4, num_attention_heads=4, image_size=224, patch_size=32),
        "segformer_b0": hf_vision("Segformer"),
        "wav2vec2_4l": wav2vec2,
    },
}


def realistic_parameters(model):
    """Parameters that initialisation leaves at one value everywhere (a zero classifier head, a
    layer scale of 1e-6, LayerNorm's ones and zeros) are drawn at random, as training would leave
    them: otherwise a branch contributes nothing or an output is all zeros, and the check proves
    nothing about the operators behind it."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.numel() < 2 or not p.is_floating_point() or float(p.std()) > 0:
                continue
            value = float(p.flatten()[0])
            if p.dim() >= 2:
                fan_in = p[0].numel()
                p.normal_(0.0, fan_in ** -0.5)
            elif value == 0.0:
                p.normal_(0.0, 0.1)
            else:
                p.uniform_(0.5, 1.5).mul_(max(abs(value), 0.1))


def realistic_batch_norms(model, shapes):
    """Random BN scales and shifts, then running statistics from a few random batches."""
    bns = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    if not bns:
        return
    with torch.no_grad():
        for m in bns:
            if m.affine:
                m.weight.uniform_(0.5, 1.5)
                m.bias.normal_(0.0, 0.2)
            m.momentum = None  # a cumulative average over the batches below
            m.reset_running_stats()
        model.train()
        for _ in range(3):
            batch = [torch.randn((4,) + tuple(s[1])[1:]) for s in shapes]
            model(*batch)
    model.eval()


def export(name, make, out_dir, force):
    path = os.path.join(out_dir, name + ".onnx")
    if os.path.exists(path) and not force:
        return "cached"
    torch.manual_seed(0)
    model, shapes = make()
    model.eval()
    realistic_parameters(model)
    if all(len(s) == 2 for s in shapes):
        realistic_batch_norms(model, shapes)
    args = tuple(
        torch.randint(0, 100, s[1], dtype=s[2]) if len(s) > 2 else torch.randn(s[1]) for s in shapes
    )
    tmp = path + ".tmp"
    with torch.no_grad():
        torch.onnx.export(model, args, tmp, opset_version=OPSET, input_names=[s[0] for s in shapes],
                          output_names=["output"], dynamo=False, do_constant_folding=True)
    os.replace(tmp, path)
    return "exported"


def main():
    p = argparse.ArgumentParser()
    p.add_argument("out")
    p.add_argument("--set", default="public", choices=["public", "extra", "wide", "all"])
    p.add_argument("--only", default="")
    p.add_argument("--force", action="store_true")
    a = p.parse_args()
    os.makedirs(a.out, exist_ok=True)
    sets = ["public", "extra", "wide"] if a.set == "all" else [a.set]
    only = [n for n in a.only.split(",") if n]
    listed = []
    failed = 0
    for s in sets:
        for name, make in MODELS[s].items():
            if only and name not in only:
                continue
            try:
                how = export(name, make, a.out, a.force)
                print(f"{name}: {how}", flush=True)
            except Exception as e:  # noqa: BLE001 - one model's failure is reported, the rest go on
                failed += 1
                print(f"{name}: export failed: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}", flush=True)
    # Every model of the sets that is on disk, whatever --only chose this time.
    for s in sets:
        listed += [{"name": n, "set": s, "file": n + ".onnx"} for n in MODELS[s] if os.path.exists(os.path.join(a.out, n + ".onnx"))]
    with open(os.path.join(a.out, "zoo.json"), "w") as f:
        json.dump({"opset": OPSET, "torch": torch.__version__, "models": listed}, f, indent=2)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
