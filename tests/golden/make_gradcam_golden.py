#!/usr/bin/python3
"""Golden tensors for the Attention-IoU study's C++ tests (reference-attention-iou.md sections 1-3),
computed independently in PyTorch + numpy + OpenCV (Debian python3-torch, python3-opencv).

Writes under tests/data/gradcam/:
  resnet-basic.safetensors      tiny torchvision-layout ResNet (BasicBlock [1,2,1,1]), random BN statistics
  resnet-basic.pth              the same state_dict as torch.save (zip; an OrderedDict with _metadata)
  resnet-basic-checkpoint.pth   {"epoch", "lr", "state_dict"} as training checkpoints are saved
  resnet-module.pth             torch.save(model): a pickled module, which a C++ reader must refuse
  resnet-extended.safetensors   tiny Bottleneck ResNet with the published "extended" head (resnet.* + fc)
  effnet.safetensors            tiny EfficientNetV2 (efficientnet_v2_s stage table, narrow, blocks [1,2,1,1,2,1])
  golden.safetensors            inputs, logits, GradCAM maps (published scaling), numpy split permutation

GradCAM follows pytorch-grad-cam's BaseCAM as the study uses it: a forward hook on the target layer
(ResNet layer4[-1], EfficientNet features[-1]), the targets' outputs summed and back-propagated,
alpha = spatial mean of the gradient, cam = sum_c alpha_c F_c, np.maximum(cam, 0), scale_cam_image
(min-max with 1e-7, cv2.resize INTER_LINEAR to the input size), np.maximum, mean over the one layer,
min-max again; then the repo's A - min, A / (1e-7 + max), clamp(0, 1).
Targets: |z_t| (BinaryClassClassifierOutputTarget), z_t (--positive_scores), logit of argmax (Waterbirds).
Run: /usr/bin/python3 tests/golden/make_gradcam_golden.py (CI does not need it).
"""
import os
import sys

import cv2
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "data", "gradcam")
sys.path.insert(0, HERE)
from make_golden import write_safetensors  # noqa: E402  (one safetensors writer for both golden scripts)


# ---- torchvision-layout ResNet ----
class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, inp, w, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(inp, w, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(w)
        self.conv2 = nn.Conv2d(w, w, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(w)
        self.downsample = None
        if stride != 1 or inp != w:
            self.downsample = nn.Sequential(nn.Conv2d(inp, w, 1, stride, bias=False), nn.BatchNorm2d(w))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + (self.downsample(x) if self.downsample is not None else x))


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, inp, w, stride):
        super().__init__()
        out = w * 4
        self.conv1 = nn.Conv2d(inp, w, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(w)
        self.conv2 = nn.Conv2d(w, w, 3, stride, 1, bias=False)  # torchvision v1.5: stride in the 3x3
        self.bn2 = nn.BatchNorm2d(w)
        self.conv3 = nn.Conv2d(w, out, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out)
        self.downsample = None
        if stride != 1 or inp != out:
            self.downsample = nn.Sequential(nn.Conv2d(inp, out, 1, stride, bias=False), nn.BatchNorm2d(out))

    def forward(self, x):
        o = F.relu(self.bn1(self.conv1(x)))
        o = F.relu(self.bn2(self.conv2(o)))
        o = self.bn3(self.conv3(o))
        return F.relu(o + (self.downsample(x) if self.downsample is not None else x))


class ResNet(nn.Module):
    def __init__(self, block, blocks, widths, classes):
        super().__init__()
        self.conv1 = nn.Conv2d(3, widths[0], 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        ch = widths[0]
        for s in range(4):
            layers = []
            for b in range(blocks[s]):
                layers.append(block(ch, widths[s], 2 if (b == 0 and s > 0) else 1))
                ch = widths[s] * block.expansion
            setattr(self, f"layer{s + 1}", nn.Sequential(*layers))
        self.fc = nn.Linear(ch, classes)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 3, 2, 1)
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


class Extended(nn.Module):  # bias.py resnet50_extended: resnet.fc = Linear(F, F); fc(Dropout(ReLU(x)))
    def __init__(self, resnet, classes):
        super().__init__()
        self.resnet = resnet
        f = resnet.fc.in_features
        self.resnet.fc = nn.Linear(f, f)
        self.fc = nn.Linear(f, classes)
        self.dropout = nn.Dropout(0.5)

    def forward(self, x):
        return self.fc(self.dropout(F.relu(self.resnet(x))))


# ---- torchvision-layout EfficientNetV2 ----
def conv_bn_act(inp, out, k, stride, groups=1, act=True):
    layers = [nn.Conv2d(inp, out, k, stride, (k - 1) // 2, groups=groups, bias=False), nn.BatchNorm2d(out, eps=1e-3)]
    if act:
        layers.append(nn.SiLU())
    return nn.Sequential(*layers)


class SE(nn.Module):
    def __init__(self, ch, sq):
        super().__init__()
        self.fc1 = nn.Conv2d(ch, sq, 1)
        self.fc2 = nn.Conv2d(sq, ch, 1)

    def forward(self, x):
        s = F.adaptive_avg_pool2d(x, 1)
        return x * torch.sigmoid(self.fc2(F.silu(self.fc1(s))))


class FusedMBConv(nn.Module):
    def __init__(self, inp, out, expand, stride):
        super().__init__()
        e = inp * expand
        if expand == 1:
            self.block = nn.Sequential(conv_bn_act(inp, out, 3, stride))
        else:
            self.block = nn.Sequential(conv_bn_act(inp, e, 3, stride), conv_bn_act(e, out, 1, 1, act=False))
        self.res = stride == 1 and inp == out

    def forward(self, x):
        y = self.block(x)
        return x + y if self.res else y


class MBConv(nn.Module):
    def __init__(self, inp, out, expand, stride):
        super().__init__()
        e = inp * expand
        self.block = nn.Sequential(conv_bn_act(inp, e, 1, 1), conv_bn_act(e, e, 3, stride, groups=e), SE(e, max(1, inp // 4)),
                                   conv_bn_act(e, out, 1, 1, act=False))
        self.res = stride == 1 and inp == out

    def forward(self, x):
        y = self.block(x)
        return x + y if self.res else y


POS = 0  # class of the positive-logit map
V2S = [(True, 1, 1), (True, 4, 2), (True, 4, 2), (False, 4, 2), (False, 6, 1), (False, 6, 2)]  # fused, expand, stride


class EffNet(nn.Module):
    def __init__(self, blocks, widths, classes):
        super().__init__()
        feats = [conv_bn_act(3, widths[0], 3, 2)]
        ch = widths[0]
        for s, (fused, expand, stride) in enumerate(V2S):
            stage = []
            for b in range(blocks[s]):
                cls = FusedMBConv if fused else MBConv
                stage.append(cls(ch, widths[s + 1], expand, stride if b == 0 else 1))
                ch = widths[s + 1]
            feats.append(nn.Sequential(*stage))
        feats.append(conv_bn_act(ch, widths[-1], 1, 1))
        self.features = nn.Sequential(*feats)
        self.classifier = nn.Linear(widths[-1], classes)  # published: the dropout is removed

    def forward(self, x):
        return self.classifier(torch.flatten(F.adaptive_avg_pool2d(self.features(x), 1), 1))


def randomise(model, g):
    with torch.no_grad():
        for name, p in model.named_parameters():
            fan_in = p[0].numel() if p.dim() > 1 else 1
            p.copy_(torch.randn(p.shape, generator=g) * ((1.5 / fan_in) ** 0.5 if p.dim() > 1 else 0.1))
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=g) * 0.1)
                m.running_var.copy_(torch.rand(m.running_var.shape, generator=g) + 0.5)
                m.weight.copy_(torch.rand(m.weight.shape, generator=g) + 0.5)
                m.num_batches_tracked.fill_(3)
    return model.eval()


def state(model):
    return {k: v for k, v in model.state_dict().items()}


# ---- GradCAM as pytorch-grad-cam + attention-iou compute it ----
def scale_cam_image(cam, target_size=None):
    result = []
    for img in cam:
        img = img - np.min(img)
        img = img / (1e-7 + np.max(img))
        if target_size is not None:
            img = cv2.resize(img, target_size)  # INTER_LINEAR
        result.append(img)
    return np.float32(result)


def gradcam(model, layer, x, target_fn):
    acts = {}

    def hook(module, inp, out):
        acts["a"] = out
        out.register_hook(lambda g: acts.__setitem__("g", g))

    h = layer.register_forward_hook(hook)
    model.zero_grad()
    out = model(x)
    loss = sum(target_fn(o) for o in out)
    loss.backward()
    h.remove()
    a, g = acts["a"].detach().numpy(), acts["g"].detach().numpy()
    w = np.mean(g, axis=(2, 3))
    cam = (w[:, :, None, None] * a).sum(axis=1)
    cam = np.maximum(cam, 0)
    scaled = scale_cam_image(cam, (x.shape[-1], x.shape[-2]))[:, None, :]
    cam = np.maximum(scaled, 0).mean(axis=1)
    cam = scale_cam_image(cam)
    t = torch.from_numpy(cam)
    t = t - t.flatten(1).min(1)[0][:, None, None]
    t = t / (1e-7 + t.flatten(1).max(1)[0][:, None, None])
    return torch.clamp(t, 0, 1), out.detach()


def main():
    os.makedirs(OUT, exist_ok=True)
    g = torch.Generator().manual_seed(11)
    basic = randomise(ResNet(BasicBlock, [1, 2, 1, 1], [4, 8, 8, 16], 3), g)
    with torch.no_grad():
        basic.fc.bias[POS] += 2.0  # a positive logit, so the z_t (not |z_t|) map is not trivially zero
    ext = randomise(Extended(ResNet(Bottleneck, [1, 1, 1, 1], [4, 4, 8, 8], 2), 4), g)
    eff = randomise(EffNet([1, 2, 1, 1, 2, 1], [8, 8, 8, 12, 16, 16, 24, 32], 3), g)
    write_safetensors(os.path.join(OUT, "resnet-basic.safetensors"), state(basic))
    torch.save(basic.state_dict(), os.path.join(OUT, "resnet-basic.pth"))
    torch.save({"epoch": 3, "lr": 1e-3, "state_dict": basic.state_dict()}, os.path.join(OUT, "resnet-basic-checkpoint.pth"))
    torch.save(basic, os.path.join(OUT, "resnet-module.pth"))  # a pickled nn.Module: refused with its class name
    write_safetensors(os.path.join(OUT, "resnet-extended.safetensors"), state(ext))
    write_safetensors(os.path.join(OUT, "effnet.safetensors"), state(eff))

    x = torch.randn(2, 3, 96, 80, generator=g)  # non-square: the map is resized to (H, W) = (96, 80)
    xe = torch.randn(2, 3, 64, 64, generator=g)
    golden = {"input": x, "input_eff": xe}
    layer = basic.layer4[-1]
    m_abs, logits = gradcam(basic, layer, x, lambda o: torch.abs(o[1]))
    m_pos, _ = gradcam(basic, layer, x, lambda o: o[POS])
    m_pred, _ = gradcam(basic, layer, x, lambda o: o[int(torch.argmax(o))])
    golden.update(basic_logits=logits, basic_abs1=m_abs, basic_pos=m_pos, basic_pred=m_pred)
    m_ext, logits_ext = gradcam(ext, ext.resnet.layer4[-1], x, lambda o: torch.abs(o[2]))
    golden.update(ext_logits=logits_ext, ext_abs2=m_ext)
    m_eff, logits_eff = gradcam(eff, eff.features[-1], xe, lambda o: torch.abs(o[0]))
    golden.update(eff_logits=logits_eff, eff_abs0=m_eff)

    # CelebAMask-HQ split: np.random.seed(0); perm = np.random.permutation(30000)
    np.random.seed(0)
    perm = np.random.permutation(30000)
    checksum = int(sum(int(i) * int(p) for i, p in enumerate(perm)) % (1 << 61))
    golden.update(perm_head=torch.from_numpy(perm[:100].astype(np.int64)), perm_tail=torch.from_numpy(perm[-100:].astype(np.int64)),
                  perm_checksum=torch.tensor([checksum], dtype=torch.int64))
    write_safetensors(os.path.join(OUT, "golden.safetensors"), golden,
                      {"generator": "tests/golden/make_gradcam_golden.py", "torch": torch.__version__, "numpy": np.__version__, "opencv": cv2.__version__})
    for k, v in golden.items():
        print(k, tuple(v.shape), float(v.float().abs().mean()))


if __name__ == "__main__":
    main()
