#!/usr/bin/python3
"""The engine benchmark's zoo: torchvision 0.14's own architectures and two U-Nets built the way
segmentation_models_pytorch builds them, random weights with randomised BatchNorm statistics,
exported by PyTorch 1.13 as users export them.

    /usr/bin/python3 bench/make_zoo.py OUT_DIR [NAME ...]

Writes OUT_DIR/NAME.onnx and OUT_DIR/zoo.json (name -> input channels, benchmark size, kind).
Classifiers are exported at 224 x 224 with dynamic H and W where the graph allows; segmenters at
512 x 512. Opset 17 except where torchvision's export needs another (noted in zoo.json).
"""

import json
import os
import sys

import torch
import torch.nn as nn
import torchvision
from torchvision import models
from torchvision.models import segmentation

torch.set_num_threads(2)


def randomise_batchnorm(model, seed):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.copy_(torch.rand(m.num_features, generator=g) * 0.4 - 0.2)
                m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
                if m.affine:
                    m.weight.copy_(torch.rand(m.num_features, generator=g) + 0.5)
                    m.bias.copy_(torch.rand(m.num_features, generator=g) * 0.4 - 0.2)
    return model


def block(cin, cout):
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class UNet(nn.Module):
    """segmentation_models_pytorch's Unet: an encoder's features at strides 2..32, decoder blocks of
    nearest x2 upsampling, concatenation with the skip, two 3x3 Conv-BN-ReLU; channels 256..16;
    a 3x3 head."""

    def __init__(self, encoder, skips, classes=6, decoder=(256, 128, 64, 32, 16)):
        super().__init__()
        self.encoder, self.skips = encoder, skips  # skips: channels at strides 2, 4, 8, 16, 32
        blocks, cin = [], skips[-1]
        for i, cout in enumerate(decoder):
            skip = skips[-2 - i] if i < len(skips) - 1 else 0
            blocks.append(nn.Sequential(block(cin + skip, cout), block(cout, cout)))
            cin = cout
        self.blocks = nn.ModuleList(blocks)
        self.head = nn.Conv2d(decoder[-1], classes, 3, padding=1)

    def forward(self, x):
        features = self.encoder(x)  # strides 2, 4, 8, 16, 32
        y = features[-1]
        for i, b in enumerate(self.blocks):
            y = nn.functional.interpolate(y, scale_factor=2.0, mode="nearest")
            if i < len(features) - 1:
                y = torch.cat((y, features[-2 - i]), 1)
            y = b(y)
        return self.head(y)


class ResNetEncoder(nn.Module):
    def __init__(self, r, in_channels):
        super().__init__()
        r.conv1 = nn.Conv2d(in_channels, 64, 7, 2, 3, bias=False)
        self.r = r

    def forward(self, x):
        r = self.r
        s2 = r.relu(r.bn1(r.conv1(x)))
        s4 = r.layer1(r.maxpool(s2))
        s8 = r.layer2(s4)
        s16 = r.layer3(s8)
        return [s2, s4, s8, s16, r.layer4(s16)]


class EfficientNetEncoder(nn.Module):
    # torchvision's efficientnet_b0.features: stride 2 after 0, 4 after 2, 8 after 3, 16 after 5, 32 after 7.
    def __init__(self, e, in_channels):
        super().__init__()
        e.features[0][0] = nn.Conv2d(in_channels, 32, 3, 2, 1, bias=False)
        self.f = e.features

    def forward(self, x):
        out = []
        for i, stage in enumerate(self.f[:8]):
            x = stage(x)
            if i in (1, 2, 3, 5, 7):
                out.append(x)
        return out


def segmenter(build):
    class Out(nn.Module):
        def __init__(self):
            super().__init__()
            self.m = build()

        def forward(self, x):
            return self.m(x)["out"]

    return Out()


ZOO = {
    # name: (builder, channels, size, kind)
    "resnet18": (lambda: models.resnet18(), 3, 224, "classifier"),
    "resnet50": (lambda: models.resnet50(), 3, 224, "classifier"),
    "mobilenet_v3_large": (lambda: models.mobilenet_v3_large(), 3, 224, "classifier"),
    "mobilenet_v3_small": (lambda: models.mobilenet_v3_small(), 3, 224, "classifier"),
    "efficientnet_b0": (lambda: models.efficientnet_b0(), 3, 224, "classifier"),
    "efficientnet_v2_s": (lambda: models.efficientnet_v2_s(), 3, 224, "classifier"),
    "regnet_y_400mf": (lambda: models.regnet_y_400mf(), 3, 224, "classifier"),
    "resnext50_32x4d": (lambda: models.resnext50_32x4d(), 3, 224, "classifier"),
    "shufflenet_v2_x1_0": (lambda: models.shufflenet_v2_x1_0(), 3, 224, "classifier"),
    "densenet121": (lambda: models.densenet121(), 3, 224, "classifier"),
    "fcn_resnet50": (lambda: segmenter(lambda: segmentation.fcn_resnet50(weights=None, weights_backbone=None, aux_loss=False)), 3, 512, "segmenter"),
    "deeplabv3_resnet50": (lambda: segmenter(lambda: segmentation.deeplabv3_resnet50(weights=None, weights_backbone=None, aux_loss=False)), 3, 512, "segmenter"),
    "lraspp_mobilenet_v3_large": (lambda: segmenter(lambda: segmentation.lraspp_mobilenet_v3_large(weights=None, weights_backbone=None)), 3, 512, "segmenter"),
    "deeplabv3_mobilenet_v3_large": (lambda: segmenter(lambda: segmentation.deeplabv3_mobilenet_v3_large(weights=None, weights_backbone=None, aux_loss=False)), 3, 512, "segmenter"),
    "unet_resnet34": (lambda: UNet(ResNetEncoder(models.resnet34(), 4), (64, 64, 128, 256, 512)), 4, 512, "segmenter"),
    "unet_efficientnet_b0": (lambda: UNet(EfficientNetEncoder(models.efficientnet_b0(), 4), (16, 24, 40, 112, 320)), 4, 512, "segmenter"),
    # Transformers (issue 25): torchvision's, and SegFormer-B0 as tools/make_transformer_models.py writes it.
    "convnext_tiny": (lambda: models.convnext_tiny(), 3, 224, "classifier"),
    "swin_t": (lambda: models.swin_t(), 3, 224, "classifier"),
    "vit_b_16": (lambda: models.vit_b_16(), 3, 224, "classifier"),
    "segformer_b0": (lambda: segformer_b0(), 3, 512, "segmenter"),
}


def segformer_b0():
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
    from make_transformer_models import SegFormer
    return SegFormer(classes=19, dims=(32, 64, 160, 256), heads=(1, 2, 5, 8), srs=(8, 4, 2, 1), depths=(2, 2, 2, 2), decoder=256)


def main():
    out = sys.argv[1]
    names = sys.argv[2:] or list(ZOO)
    os.makedirs(out, exist_ok=True)
    index_path = os.path.join(out, "zoo.json")
    index = json.load(open(index_path)) if os.path.exists(index_path) else {}
    for k, name in enumerate(names):
        build, channels, size, kind = ZOO[name]
        torch.manual_seed(k)
        model = randomise_batchnorm(build(), k).eval()
        x = torch.rand(1, channels, size, size)
        path = os.path.join(out, name + ".onnx")
        dynamic = {"input": {2: "height", 3: "width"}}
        torch.onnx.export(model, x, path, opset_version=17, input_names=["input"], output_names=["output"],
                          dynamic_axes=dynamic)
        index[name] = {"channels": channels, "size": size, "kind": kind}
        print(name, "written", flush=True)
    with open(index_path, "w") as f:
        json.dump(index, f, indent=1)


if __name__ == "__main__":
    main()
