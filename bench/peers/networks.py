"""crYOLO's three networks in PyTorch, built from cupick's own descriptions (nets/*.json) and loading
the safetensors weights cupick writes. For comparison only: the product never runs Python.

What each block means is nets/network.h's: conv is k x k, stride 1, "same" padding, no bias unless
"bias" is true, optionally followed by batchnorm (Keras: epsilon 1e-3, momentum 0.99) and a leaky
ReLU of slope 0.1; maxpool 2x2 stride 2; upsample nearest 2x; reorg TensorFlow's space_to_depth
(block 2, output channel (dy*2 + dx)*C + c); concat along channels in the order listed. A conv that
reads a one-channel input is named "<name>_depth1", as cupick and crYOLO name it.

Weights (io/weights.h): "<layer>/kernel" [O, I, k, k] (PyTorch's layout), "<layer>/bias" [O],
"<layer>/gamma", "/beta", "/moving_mean", "/moving_variance" [C].
"""
import json
import os

import torch
from torch import nn

NETS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "nets")


def description(arch):
    """The description whose "name" is arch (case-insensitive), from nets/*.json."""
    for file in sorted(os.listdir(NETS)):
        if file.endswith(".json"):
            with open(os.path.join(NETS, file)) as f:
                d = json.load(f)
            if d["name"].lower() == arch.lower():
                return d
    raise SystemExit(f"networks.py: no description named {arch} in {NETS}")


class SpaceToDepth(nn.Module):
    def forward(self, x):
        n, c, h, w = x.shape
        x = x.reshape(n, c, h // 2, 2, w // 2, 2).permute(0, 3, 5, 1, 2, 4)  # n, dy, dx, c, h/2, w/2
        return x.reshape(n, 4 * c, h // 2, w // 2)


class Concat(nn.Module):
    def forward(self, *xs):
        return torch.cat(xs, 1)


class Network(nn.Module):
    """Nodes run in order; each node's output is dropped after its last reader, as cupick's graph does."""

    def __init__(self, desc, input_channels=1, anchors=1, classes=1):
        super().__init__()
        self.name = desc["name"]
        self.layers = nn.ModuleDict()
        self.inputs = {}  # node -> the nodes it reads
        channels = {"input": input_channels}
        previous = "input"

        def add(name, module, inputs, out_channels):
            nonlocal previous
            self.layers[name] = module
            self.inputs[name] = inputs
            channels[name] = out_channels
            previous = name

        for b in desc["layers"]:
            inputs = b.get("input", previous)
            inputs = [inputs] if isinstance(inputs, str) else list(inputs)
            cin = [channels[i] for i in inputs]
            kind = b["type"]
            if kind == "conv":
                filters = anchors * (5 + classes) if b["filters"] == "head" else b["filters"]
                k = b["size"]
                name = b["name"] + ("_depth1" if inputs[0] == "input" and input_channels == 1 else "")
                add(name, nn.Conv2d(cin[0], filters, k, padding=k // 2, bias=b.get("bias", False)), inputs, filters)
                if "norm" in b:
                    add(b["norm"], nn.BatchNorm2d(filters, eps=1e-3, momentum=0.01), [previous], filters)
                if "leaky" in b:
                    add(b["leaky"], nn.LeakyReLU(0.1), [previous], filters)
            elif kind == "maxpool":
                add(b["name"], nn.MaxPool2d(2, 2), inputs, cin[0])
            elif kind == "upsample":
                add(b["name"], nn.Upsample(scale_factor=2, mode="nearest"), inputs, cin[0])
            elif kind == "reorg":
                add(b["name"], SpaceToDepth(), inputs, 4 * cin[0])
            elif kind == "concat":
                add(b["name"], Concat(), inputs, sum(cin))
            else:
                raise SystemExit(f"networks.py: {self.name}: unknown block type {kind}")
        order = list(self.inputs)
        self.output = order[-1]
        self.last_use = {}  # node -> the last node that reads it
        for node in order:
            for i in self.inputs[node]:
                self.last_use[i] = node

    def forward(self, x):
        values = {"input": x}
        for node, module in self.layers.items():
            values[node] = module(*(values[i] for i in self.inputs[node]))
            for i in self.inputs[node]:
                if self.last_use[i] == node:
                    del values[i]
        return values[self.output]


def load_weights(model, path):
    """Copies every parameter from cupick's safetensors file; a missing tensor, an unknown one or
    another shape is an error naming it."""
    from safetensors.torch import load_file

    tensors = load_file(path)
    names = {"weight": ("kernel", "gamma"), "bias": ("bias", "beta"), "running_mean": ("moving_mean",),
             "running_var": ("moving_variance",)}
    used = set()
    with torch.no_grad():
        for node, module in model.layers.items():
            for attr, candidates in names.items():
                target = getattr(module, attr, None)
                if not isinstance(target, torch.Tensor):
                    continue
                key = next((f"{node}/{c}" for c in candidates if f"{node}/{c}" in tensors), None)
                if key is None:
                    raise SystemExit(f"{path}: no tensor for {node}.{attr}")
                if tuple(tensors[key].shape) != tuple(target.shape):
                    raise SystemExit(f"{path}: {key} is {list(tensors[key].shape)}, {node}.{attr} is {list(target.shape)}")
                target.copy_(tensors[key])
                used.add(key)
    extra = sorted(set(tensors) - used)
    if extra:
        raise SystemExit(f"{path}: tensors the network does not have: {', '.join(extra[:5])}")


def build(arch, weights=None):
    model = Network(description(arch))
    if weights:
        load_weights(model, weights)
    return model
