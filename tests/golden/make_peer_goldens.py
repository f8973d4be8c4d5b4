#!/usr/bin/env python3
"""Goldens made by the peer libraries themselves (issue 15): torchvision, timm and transformers models with
random weights initialised by those libraries, saved as those libraries save them, and GradCAM maps computed by
pytorch-grad-cam (the `GradCAM` class the published Attention-IoU code calls). core.TestPeerGoldens compares
BiasScope against them. Nothing is downloaded: every model is built with pretrained=False.

Usage: make_peer_goldens.py OUTDIR      (CTest runs it as the fixture golden.peers; versions: requirements.txt)

Writes into OUTDIR:
  <case>.safetensors / <case>.pth   the state dict (safetensors.torch.save_file / torch.save(state_dict))
  hf-vit/                           transformers ViTForImageClassification.save_pretrained (config.json + safetensors)
  golden.safetensors                per case: pixels, logits, and the GradCAM maps of each target
  versions.json                     the library versions that made them

GradCAM: pytorch_grad_cam.GradCAM(model, target_layers, reshape_transform)(input_tensor, targets), then the
published get_attention_map post-processing (A - min, A / (1e-7 + max), clamp to [0, 1]). Targets as the
published code builds them: |z_t| (CelebA default), z_t (--positive_scores), and None (Waterbirds: pytorch-grad-cam
explains the argmax class). Layers as the published code picks them: ResNet layer4[-1], the extended head's
resnet.layer4[-1], EfficientNet features[-1], torchvision ViT encoder.layers[-1].ln_1 with the published
reshape_transform (token 0 dropped, square grid); also a ViT block's output (encoder.layers[-2]) for BiasScope's
default site.
"""
import json
import os
import sys

import numpy as np
import pytorch_grad_cam
import safetensors.torch
import timm
import torch
import torch.nn as nn
import torchvision
import transformers
from pytorch_grad_cam import GradCAM

OUT = sys.argv[1] if len(sys.argv) > 1 else "peer-goldens"
torch.manual_seed(20261207)
torch.set_num_threads(2)
GOLD = {}


def perturb(model, scale=0.1):
    """Library init leaves some tensors at constants (BatchNorm statistics, LayerNorm gamma/beta, torchvision's
    zero ViT head): move every parameter and buffer off its constant so that each one matters in the test."""
    g = torch.Generator().manual_seed(7)
    with torch.no_grad():
        for name, t in list(model.state_dict().items()):
            if not t.is_floating_point():
                continue
            if name.endswith("running_var"):
                t.copy_(0.5 + torch.rand(t.shape, generator=g))
            else:
                t.add_(scale * torch.randn(t.shape, generator=g) * (t.std() if t.numel() > 1 and t.std() > 0 else 1.0))
    return model.eval()


def save(model, name, pth=True):
    sd = {k: v.contiguous() for k, v in model.state_dict().items() if k != "num_batches_tracked" and not k.endswith("num_batches_tracked")}
    safetensors.torch.save_file(sd, os.path.join(OUT, name + ".safetensors"))
    if pth:
        torch.save(model.state_dict(), os.path.join(OUT, name + ".pth"))


def abs_target(t):
    return lambda out: torch.abs(out[t])  # BinaryClassClassifierOutputTarget: |z_t| of the one-hot attribute


def logit_target(t):
    return lambda out: out[t]  # BinaryClassPositiveClassifierOutputTarget: z_t


def cams(case, model, layer, x, t, reshape=None):
    GOLD[case + ".pixels"] = x.contiguous()
    with torch.no_grad():
        GOLD[case + ".logits"] = model(x).contiguous()
    for tag, targets in (("abs", [abs_target(t)] * len(x)), ("logit", [logit_target(t)] * len(x)), ("predicted", None)):
        cam = GradCAM(model=model, target_layers=[layer], reshape_transform=reshape)
        a = torch.tensor(cam(input_tensor=x, targets=targets))
        del cam
        a = a - a.min(1)[0].min(1)[0][:, None, None]  # the published get_attention_map
        a = a / (1e-7 + a.max(1)[0].max(1)[0][:, None, None])
        GOLD[f"{case}.cam.{tag}"] = torch.clamp(a, 0, 1).float().contiguous()


def published_reshape(tensor):  # attention-iou's reshape_transform: drop token 0, square patch grid, channels first
    side = int((tensor.size(1) - 1) ** 0.5)
    return tensor[:, 1:, :].reshape(tensor.size(0), side, side, tensor.size(2)).transpose(2, 3).transpose(1, 2)


class Extended(nn.Module):
    """The published resnet50_extended: resnet.fc becomes Linear(F, F), then fc(dropout(relu(.)))."""

    def __init__(self, classes):
        super().__init__()
        self.resnet = torchvision.models.resnet50(num_classes=1000)
        f = self.resnet.fc.in_features
        self.resnet.fc = nn.Linear(f, f)
        self.fc = nn.Linear(f, classes)
        self.dropout = nn.Dropout(0.5)

    def forward(self, x):
        return self.fc(self.dropout(torch.relu(self.resnet(x))))


class Logits(nn.Module):
    """transformers models return a ModelOutput; pytorch-grad-cam needs the logits tensor."""

    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, x):
        return self.m(pixel_values=x).logits


def lxt_relevance(model, x, classes):
    """lxt 2.1's efficient mode on torchvision's ViT (its shipped cp_LRP map: identity rule on GELU and LayerNorm,
    q and k detached in the attention), with and without zennit's Gamma (conv 0.25, linear 0.05, as lxt's ViT
    example registers it). Relevance = input x gradient of the patched model, one backward per target; the latent
    relevance is act x grad at each block's post-GELU (mlp[1]) and block output, summed over tokens (per neuron)
    and over features (per token), as BiasScope's readout."""
    import transformers.pytorch_utils

    # lxt 2.1 imports its BERT patches on `import lxt.efficient`, and they import a name transformers 5 removed
    # (find_pruneable_heads_and_indices). The ViT path never uses it: give the name so lxt imports beside transformers 5.
    if not hasattr(transformers.pytorch_utils, "find_pruneable_heads_and_indices"):
        transformers.pytorch_utils.find_pruneable_heads_and_indices = None
    import lxt.efficient
    import zennit.composites
    import zennit.rules
    from torchvision.models import vision_transformer

    lxt.efficient.monkey_patch(vision_transformer)
    lxt.efficient.monkey_patch_zennit()
    for tag, gamma in (("cp", False), ("cp-gamma", True)):
        comp = None
        if gamma:
            comp = zennit.composites.LayerMapComposite([(nn.Conv2d, zennit.rules.Gamma(0.25)), (nn.Linear, zennit.rules.Gamma(0.05))])
            comp.register(model)
        heat, per = [], {"intermediate": ([], []), "final": ([], [])}
        for c in range(classes):
            acts = {"intermediate": [], "final": []}
            hooks = []
            for blk in model.encoder.layers:
                def keep(site):
                    def hook(module, inp, out):
                        out.retain_grad()
                        acts[site].append(out)
                    return hook
                hooks.append(blk.mlp[1].register_forward_hook(keep("intermediate")))
                hooks.append(blk.register_forward_hook(keep("final")))
            xi = x.clone().requires_grad_(True)
            y = model(xi)
            y[0, c].backward()
            for h in hooks:
                h.remove()
            heat.append((xi * xi.grad).sum(1)[0].detach())
            for site in per:
                rel = torch.stack([(a * a.grad)[0].detach() for a in acts[site]])  # [layers, tokens, features]
                per[site][0].append(rel.sum(1))
                per[site][1].append(rel.sum(2))
            model.zero_grad()
        if comp is not None:
            comp.remove()
        GOLD[f"lxt.{tag}.pixels"] = x.contiguous()
        GOLD[f"lxt.{tag}.input"] = torch.stack(heat).contiguous()
        for site, (neuron, token) in per.items():
            GOLD[f"lxt.{tag}.{site}"] = torch.stack(neuron).contiguous()
            GOLD[f"lxt.{tag}.{site}_tokens"] = torch.stack(token).contiguous()


def probe_goldens():
    """scikit-learn's LogisticRegression (lbfgs, L2) on drawn features: two classes (binomial) and four (multinomial),
    fitted to a tight tolerance so that its solution is the optimum; BiasScope's probe must find the same one."""
    import sklearn
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(20261207)
    for tag, classes, n, d, C in (("binary", 2, 400, 48, 0.5), ("multi", 4, 500, 32, 2.0)):
        x = rng.normal(0, 1, (n, d)) * rng.uniform(0.2, 3.0, d) + rng.normal(0, 0.5, d)
        w = rng.normal(0, 1, (classes, d))
        y = np.argmax(x @ w.T + rng.gumbel(0, 2.0, (n, classes)), axis=1)
        lr = LogisticRegression(C=C, tol=1e-10, max_iter=100000).fit(x, y)
        GOLD[f"probe.{tag}.x"] = torch.tensor(x, dtype=torch.float64)
        GOLD[f"probe.{tag}.y"] = torch.tensor(y, dtype=torch.int64)
        GOLD[f"probe.{tag}.C"] = torch.tensor([C], dtype=torch.float64)
        GOLD[f"probe.{tag}.coef"] = torch.tensor(lr.coef_, dtype=torch.float64)
        GOLD[f"probe.{tag}.intercept"] = torch.tensor(lr.intercept_, dtype=torch.float64)
        GOLD[f"probe.{tag}.proba"] = torch.tensor(lr.predict_proba(x), dtype=torch.float64)
        GOLD[f"probe.{tag}.accuracy"] = torch.tensor([lr.score(x, y)], dtype=torch.float64)
    return sklearn.__version__


def localisation_goldens():
    """Quantus 0.6's localisation metrics on drawn maps and binary masks (64 images, 24 x 24): continuous maps (no
    ties), maps with zero plateaus (ties below the mask size), sparse and large masks, one empty mask."""
    import quantus

    rng = np.random.default_rng(314)
    n, h = 64, 24
    a = rng.gamma(2.0, 1.0, (n, 1, h, h)).astype(np.float32)
    a[n // 2:] = np.maximum(a[n // 2:] - 2.0, 0)  # half with zero plateaus: ties among the lowest values
    s = np.zeros((n, 1, h, h), dtype=np.float32)
    for i in range(n):
        y0, x0 = rng.integers(0, h - 4, 2)
        hh, ww = rng.integers(2, h - max(y0, x0), 2) if i % 3 else rng.integers(1, 4, 2)
        s[i, 0, y0:y0 + hh, x0:x0 + ww] = 1
    s[5] = 0  # an empty mask: NaN
    x = np.zeros((n, 3, h, h), dtype=np.float32)
    y = np.zeros(n, dtype=int)
    GOLD["loc.maps"] = torch.tensor(a[:, 0])
    GOLD["loc.masks"] = torch.tensor(s[:, 0])
    for key, metric in (("mass_accuracy", quantus.RelevanceMassAccuracy), ("rank_accuracy", quantus.RelevanceRankAccuracy), ("auc", quantus.AUC)):
        v = np.array(metric(disable_warnings=True)(model=None, x_batch=x, y_batch=y, a_batch=a, s_batch=s), dtype=np.float64)
        v[s.reshape(n, -1).sum(1) == 0] = np.nan
        GOLD[f"loc.{key}"] = torch.tensor(v)
    # rank accuracy depends on numpy's order among pixels tied with the |mask|-th value: mark those images
    tied = []
    for i in range(n):
        k = int(s[i].sum())
        srt = np.sort(a[i].ravel())[::-1]
        tied.append(1.0 if 0 < k < srt.size and srt[k - 1] == srt[k] else 0.0)
    GOLD["loc.rank_tied"] = torch.tensor(tied, dtype=torch.float64)
    return quantus.__version__


def main():
    os.makedirs(OUT, exist_ok=True)
    C = 4  # classes (or attributes) of every model
    x96 = torch.randn(2, 3, 96, 96)

    # ---- CNNs (torchvision) ----
    r18 = perturb(torchvision.models.resnet18(num_classes=C))
    save(r18, "resnet18")
    cams("resnet18", r18, r18.layer4[-1], x96, 1)
    r50 = perturb(torchvision.models.resnet50(num_classes=C))
    save(r50, "resnet50", pth=False)
    cams("resnet50", r50, r50.layer4[-1], x96, 2)
    ext = perturb(Extended(C))
    save(ext, "resnet50-extended", pth=False)
    cams("resnet50-extended", ext, ext.resnet.layer4[-1], x96, 0)
    eff = perturb(torchvision.models.efficientnet_v2_s(num_classes=C))
    save(eff, "efficientnet_v2_s", pth=False)
    cams("efficientnet_v2_s", eff, eff.features[-1], x96, 3)

    # ---- ViTs ----
    x32 = torch.randn(2, 3, 32, 32)
    tv = perturb(torchvision.models.VisionTransformer(image_size=32, patch_size=8, num_layers=3, num_heads=2, hidden_dim=128, mlp_dim=256,
                                                      num_classes=C))
    save(tv, "tv-vit")
    cams("tv-vit", tv, tv.encoder.layers[-1].ln_1, x32, 1, published_reshape)
    cams("tv-vit-output", tv, tv.encoder.layers[-2], x32, 1, published_reshape)
    tvb = perturb(torchvision.models.vit_b_16(num_classes=C), 0.02)
    save(tvb, "tv-vit_b_16", pth=False)
    x224 = torch.randn(1, 3, 224, 224)
    cams("tv-vit_b_16", tvb, tvb.encoder.layers[-1].ln_1, x224, 0, published_reshape)

    tm = perturb(timm.models.vision_transformer.VisionTransformer(img_size=32, patch_size=8, embed_dim=128, depth=3, num_heads=2, mlp_ratio=2.0,
                                                                  num_classes=C))
    save(tm, "timm-vit")
    cams("timm-vit", tm, tm.blocks[-1].norm1, x32, 2, published_reshape)
    tmb = perturb(timm.create_model("vit_base_patch16_224", pretrained=False, num_classes=C), 0.02)
    save(tmb, "timm-vit_base_patch16_224", pth=False)
    GOLD["timm-vit_base_patch16_224.pixels"] = x224
    with torch.no_grad():
        GOLD["timm-vit_base_patch16_224.logits"] = tmb(x224).contiguous()
    # timm without q/k/v biases (qkv_bias=False): BiasScope reads them as zero biases
    tnb = perturb(timm.models.vision_transformer.VisionTransformer(img_size=32, patch_size=8, embed_dim=128, depth=2, num_heads=2, qkv_bias=False,
                                                                   num_classes=C))
    save(tnb, "timm-vit-noqkvbias", pth=False)
    GOLD["timm-vit-noqkvbias.pixels"] = x32
    with torch.no_grad():
        GOLD["timm-vit-noqkvbias.logits"] = tnb(x32).contiguous()
    # timm with layer scale (DeiT III / DINOv2 style): BiasScope must refuse it, naming the part
    tls = timm.models.vision_transformer.VisionTransformer(img_size=32, patch_size=8, embed_dim=128, depth=2, num_heads=2, init_values=0.1,
                                                           num_classes=C)
    save(tls.eval(), "timm-vit-layerscale", pth=False)

    cfg = transformers.ViTConfig(hidden_size=128, num_hidden_layers=3, num_attention_heads=2, intermediate_size=256, image_size=32, patch_size=8,
                                 num_labels=C)
    hf = perturb(transformers.ViTForImageClassification(cfg))
    hf.save_pretrained(os.path.join(OUT, "hf-vit"))
    # transformers >= 5 names the modules anew in memory (vit.layers.N.attention.q_proj, mlp.fc1, ...) and writes the
    # old names in save_pretrained: a torch.save of its state_dict holds the new ones
    torch.save(hf.state_dict(), os.path.join(OUT, "hf-vit-state-dict.pth"))
    blocks = hf.vit.layers if hasattr(hf.vit, "layers") else hf.vit.encoder.layer
    cams("hf-vit", Logits(hf).eval(), blocks[-1].layernorm_before, x32, 3, published_reshape)

    sklearn_version = probe_goldens()
    quantus_version = localisation_goldens()

    # lxt last: its monkey patches replace the forward of torchvision's GELU, LayerNorm and MultiheadAttention classes
    lxt_relevance(tv, x32[:1], C)

    safetensors.torch.save_file({k: v.clone().contiguous() for k, v in GOLD.items()}, os.path.join(OUT, "golden.safetensors"))
    versions = {"torch": torch.__version__, "torchvision": torchvision.__version__, "timm": timm.__version__, "transformers": transformers.__version__,
                "grad-cam": getattr(pytorch_grad_cam, "__version__", "see requirements.txt"), "numpy": np.__version__, "scikit-learn": sklearn_version, "quantus": quantus_version}
    with open(os.path.join(OUT, "versions.json"), "w") as f:
        json.dump(versions, f, indent=1)
    print("peer goldens:", OUT, versions)


if __name__ == "__main__":
    main()
