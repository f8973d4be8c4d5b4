#!/usr/bin/python3
"""Golden tensors for BiasScope's C++ tests, computed independently in PyTorch (Debian python3-torch).

Writes under tests/data/:
  tiny-vit/config.json + model.safetensors   a random tiny ViT in the Hugging Face layout
  tiny-vit.pth                                the same weights as torch.save(state_dict) (zip format)
  golden-image.png                            a deterministic 48x40 RGB test image
  golden.safetensors                          forward, preprocessing and relevance references

The forward follows HF modeling_vit (F.layer_norm, exact erf GELU). Relevance uses autograd with
the rules as detach algebra (reference-attnlrp.md section 11): one forward+backward per target,
the published way. Gamma uses a torch.autograd.Function implementing zennit's Gamma rule with lxt's
gradient x input conversion. Run: /usr/bin/python3 tests/golden/make_golden.py (CI does not need it).
"""
import json
import math
import os
import struct

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "data")
CFG = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64, patch_size=8,
           image_size=32, num_channels=3, layer_norm_eps=1e-12, hidden_act="gelu", qkv_bias=True,
           architectures=["ViTForImageClassification"], model_type="vit",
           id2label={str(i): f"label_{i}" for i in range(5)}, label2id={f"label_{i}": i for i in range(5)})
TARGETS = [0, 3]
SITES = ["intermediate", "final", "ln_before", "ln_after", "attention"]
GAMMA_CONV, GAMMA_LIN = 0.25, 0.05


def write_safetensors(path, tensors, metadata=None):
    header, blobs, offset = {}, [], 0
    names = {torch.float32: "F32", torch.uint8: "U8", torch.int64: "I64"}
    if metadata:
        header["__metadata__"] = metadata
    for name, t in tensors.items():
        t = t.detach().contiguous().cpu()
        b = t.numpy().tobytes()
        header[name] = {"dtype": names[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(b)]}
        offset += len(b)
        blobs.append(b)
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def make_weights(seed=7):
    g = torch.Generator().manual_seed(seed)
    D, I, P, L = CFG["hidden_size"], CFG["intermediate_size"], CFG["patch_size"], CFG["num_hidden_layers"]
    N = (CFG["image_size"] // P) ** 2 + 1

    def r(*shape, std=0.3):
        return (torch.randn(*shape, generator=g) * std).float()

    sd = {"vit.embeddings.cls_token": r(1, 1, D), "vit.embeddings.position_embeddings": r(1, N, D, std=0.1),
          "vit.embeddings.patch_embeddings.projection.weight": r(D, 3, P, P, std=0.1),
          "vit.embeddings.patch_embeddings.projection.bias": r(D, std=0.1)}
    for l in range(L):
        p = f"vit.encoder.layer.{l}."
        for ln in ("layernorm_before", "layernorm_after"):
            sd[p + ln + ".weight"] = 1 + r(D, std=0.1)
            sd[p + ln + ".bias"] = r(D, std=0.1)
        for name in ("attention.attention.query", "attention.attention.key", "attention.attention.value", "attention.output.dense"):
            sd[p + name + ".weight"] = r(D, D, std=0.25)
            sd[p + name + ".bias"] = r(D, std=0.1)
        sd[p + "intermediate.dense.weight"] = r(I, D, std=0.25)
        sd[p + "intermediate.dense.bias"] = r(I, std=0.1)
        sd[p + "output.dense.weight"] = r(D, I, std=0.2)
        sd[p + "output.dense.bias"] = r(D, std=0.1)
    sd["vit.layernorm.weight"] = 1 + r(D, std=0.1)
    sd["vit.layernorm.bias"] = r(D, std=0.1)
    sd["classifier.weight"] = r(5, D, std=0.5)
    sd["classifier.bias"] = r(5, std=0.1)
    return sd


def hf_forward(sd, x):
    """Plain HF ViT forward (eval), the reference for logits."""
    D, H, P = CFG["hidden_size"], CFG["num_attention_heads"], CFG["patch_size"]
    eps = CFG["layer_norm_eps"]
    h = F.conv2d(x, sd["vit.embeddings.patch_embeddings.projection.weight"], sd["vit.embeddings.patch_embeddings.projection.bias"], stride=P)
    h = h.flatten(2).transpose(1, 2)
    h = torch.cat([sd["vit.embeddings.cls_token"].expand(x.shape[0], -1, -1), h], 1) + sd["vit.embeddings.position_embeddings"]
    B, N, _ = h.shape
    for l in range(CFG["num_hidden_layers"]):
        p = f"vit.encoder.layer.{l}."
        u = F.layer_norm(h, (D,), sd[p + "layernorm_before.weight"], sd[p + "layernorm_before.bias"], eps)
        sp = lambda t: t.view(B, N, H, D // H).permute(0, 2, 1, 3)
        q = sp(F.linear(u, sd[p + "attention.attention.query.weight"], sd[p + "attention.attention.query.bias"]))
        k = sp(F.linear(u, sd[p + "attention.attention.key.weight"], sd[p + "attention.attention.key.bias"]))
        v = sp(F.linear(u, sd[p + "attention.attention.value.weight"], sd[p + "attention.attention.value.bias"]))
        a = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(D // H), -1)
        o = (a @ v).permute(0, 2, 1, 3).reshape(B, N, D)
        h = h + F.linear(o, sd[p + "attention.output.dense.weight"], sd[p + "attention.output.dense.bias"])
        w = F.layer_norm(h, (D,), sd[p + "layernorm_after.weight"], sd[p + "layernorm_after.bias"], eps)
        m = F.gelu(F.linear(w, sd[p + "intermediate.dense.weight"], sd[p + "intermediate.dense.bias"]))
        h = h + F.linear(m, sd[p + "output.dense.weight"], sd[p + "output.dense.bias"])
    h = F.layer_norm(h, (D,), sd["vit.layernorm.weight"], sd["vit.layernorm.bias"], eps)
    return F.linear(h[:, 0], sd["classifier.weight"], sd["classifier.bias"])


def stab(x, eps):
    return x + eps * torch.where(x >= 0, torch.ones_like(x), -torch.ones_like(x))


class GammaLinear(torch.autograd.Function):
    """y = x W^T + b with zennit's generalised Gamma rule in gradient x input form (lxt zennit_patches)."""

    @staticmethod
    def forward(ctx, x, weight, bias, gamma):
        y = x @ weight.t() + bias
        ctx.save_for_backward(x, weight, bias, y)
        ctx.gamma = gamma
        return y

    @staticmethod
    def backward(ctx, gy):
        x, w, b, y = ctx.saved_tensors
        gm = ctx.gamma
        P = lambda t: t + gm * t.clamp(min=0)
        Nn = lambda t: t + gm * t.clamp(max=0)
        xp, xn = x.clamp(min=0), x.clamp(max=0)
        zp = xp @ P(w).t() + P(b) + xn @ Nn(w).t()
        zn = xp @ Nn(w).t() + Nn(b) + xn @ P(w).t()
        ry = gy * y
        sp = (y > 0).float() * ry / stab(zp, 1e-6)
        sn = (y < 0).float() * ry / stab(zn, 1e-6)
        rx = xp * (sp @ P(w)) + xn * (sp @ Nn(w)) + xp * (sn @ Nn(w)) + xn * (sn @ P(w))
        return rx / stab(x, 1e-10), None, None, None


def lrp(sd, x, target, rule, gamma=False):
    """Returns input heatmap and per-site tensors (act, grad) for one target."""
    D, H, P = CFG["hidden_size"], CFG["num_attention_heads"], CFG["patch_size"]
    eps = CFG["layer_norm_eps"]
    x = x.clone().requires_grad_(True)

    def lin(t, wk, bk, use_gamma=False):
        if use_gamma:
            return GammaLinear.apply(t, sd[wk], sd[bk], GAMMA_LIN)
        return F.linear(t, sd[wk], sd[bk])

    def ln(t, wk, bk):
        mu = t.mean(-1, keepdim=True)
        var = ((t - mu) ** 2).mean(-1, keepdim=True)
        return (t - mu) / torch.sqrt(var + eps).detach() * sd[wk] + sd[bk]

    def halve(t):
        return t * 0.5 + (t - t * 0.5).detach()

    B = 1
    G = CFG["image_size"] // P
    if gamma:
        patches = x.reshape(1, 3, G, P, G, P).permute(0, 2, 4, 1, 3, 5).reshape(1, G * G, 3 * P * P)
        wflat = sd["vit.embeddings.patch_embeddings.projection.weight"].reshape(D, -1)
        h = GammaLinear.apply(patches, wflat, sd["vit.embeddings.patch_embeddings.projection.bias"], GAMMA_CONV)
    else:
        h = F.conv2d(x, sd["vit.embeddings.patch_embeddings.projection.weight"], sd["vit.embeddings.patch_embeddings.projection.bias"], stride=P)
        h = h.flatten(2).transpose(1, 2)
    h = torch.cat([sd["vit.embeddings.cls_token"], h], 1) + sd["vit.embeddings.position_embeddings"]
    N = h.shape[1]
    taps = []
    for l in range(CFG["num_hidden_layers"]):
        p = f"vit.encoder.layer.{l}."
        u = ln(h, p + "layernorm_before.weight", p + "layernorm_before.bias")
        sp = lambda t: t.view(B, N, H, D // H).permute(0, 2, 1, 3)
        qk_in = u.detach() if rule == "cp" else u
        q = sp(lin(qk_in, p + "attention.attention.query.weight", p + "attention.attention.query.bias"))
        k = sp(lin(qk_in, p + "attention.attention.key.weight", p + "attention.attention.key.bias"))
        v = sp(lin(u, p + "attention.attention.value.weight", p + "attention.attention.value.bias"))
        s = q @ k.transpose(-1, -2)
        if rule == "attnlrp":
            s = halve(s)
        a = torch.softmax(s / math.sqrt(D // H), -1)
        o = a @ v
        if rule == "attnlrp":
            o = halve(o)
        att = lin(o.permute(0, 2, 1, 3).reshape(B, N, D), p + "attention.output.dense.weight", p + "attention.output.dense.bias")
        b = h + att
        w = ln(b, p + "layernorm_after.weight", p + "layernorm_after.bias")
        z = lin(w, p + "intermediate.dense.weight", p + "intermediate.dense.bias", gamma)
        y = F.gelu(z)
        ratio = (y / stab(z, 1e-10)).detach()
        m = z * ratio + (y - z * ratio).detach()
        out = b + lin(m, p + "output.dense.weight", p + "output.dense.bias", gamma)
        for t in (m, out, u, w, att):
            t.retain_grad()
        taps.append(dict(intermediate=m, final=out, ln_before=u, ln_after=w, attention=att))
        h = out
    hf = ln(h, "vit.layernorm.weight", "vit.layernorm.bias")[:, 0]
    logits = lin(hf, "classifier.weight", "classifier.bias", gamma)
    logits[0, target].backward()
    out = {"input": (x * x.grad).sum(1)[0].detach()}
    for site in SITES:
        acts = [t[site] for t in taps]
        out[site] = torch.stack([(t.detach() * t.grad)[0].sum(0) for t in acts])
        out[site + "_tokens"] = torch.stack([(t.detach() * t.grad)[0].sum(1) for t in acts])
        out[site + "_grad"] = torch.stack([t.grad[0].sum(0) for t in acts])
    return out


def test_image():
    rng = np.random.RandomState(3)
    yy, xx = np.mgrid[0:40, 0:48]
    img = np.stack([(xx * 5) % 256, (yy * 6) % 256, ((xx + yy) * 3) % 256], -1).astype(np.float64)
    img += rng.randint(0, 40, size=img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def main():
    os.makedirs(os.path.join(DATA, "tiny-vit"), exist_ok=True)
    sd = make_weights()
    write_safetensors(os.path.join(DATA, "tiny-vit", "model.safetensors"), sd, {"format": "pt"})
    with open(os.path.join(DATA, "tiny-vit", "config.json"), "w") as f:
        json.dump(CFG, f, indent=2)
    torch.save(sd, os.path.join(DATA, "tiny-vit.pth"))

    arr = test_image()
    Image.fromarray(arr).save(os.path.join(DATA, "golden-image.png"))
    pil = Image.open(os.path.join(DATA, "golden-image.png")).convert("RGB")
    golden = {}
    small = np.asarray(pil.resize((32, 32), Image.BILINEAR))
    golden["resized_32"] = torch.from_numpy(small.copy())
    golden["resized_224"] = torch.from_numpy(np.asarray(pil.resize((224, 224), Image.BILINEAR)).copy())
    golden["resized_17x29"] = torch.from_numpy(np.asarray(pil.resize((17, 29), Image.BILINEAR)).copy())
    # HF ViTImageProcessor: rescale (float64 * 1/255, cast float32), normalise mean 0.5 std 0.5
    px = (small.astype(np.float64) * (1 / 255)).astype(np.float32)
    px = (px - np.float32(0.5)) / np.float32(0.5)
    x = torch.from_numpy(px).permute(2, 0, 1).unsqueeze(0).contiguous()
    golden["pixels"] = x
    with torch.no_grad():
        golden["logits"] = hf_forward(sd, x)[0]
    for rule, gamma, name in (("cp", False, "cp"), ("attnlrp", False, "attnlrp"), ("cp", True, "cp_gamma")):
        for t in TARGETS:
            for k, v in lrp(sd, x, t, rule, gamma).items():
                golden[f"{name}/{t}/{k}"] = v.float()
    write_safetensors(os.path.join(DATA, "golden.safetensors"), golden,
                      {"generator": "tests/golden/make_golden.py", "torch": torch.__version__,
                       "gamma": f"conv={GAMMA_CONV},linear={GAMMA_LIN}", "targets": ",".join(map(str, TARGETS))})
    print("wrote", len(golden), "golden tensors")


if __name__ == "__main__":
    main()
