"""Operations torch does not ship: deformable convolution (DCNv1 and, with a mask, DCNv2).

``deform_conv2d`` and ``DeformConv2d`` take the arguments, layouts and state-dict keys of
``torchvision.ops``; they run torchvision's kernel when torchvision imports and a vectorised
pure-PyTorch version otherwise (differentiable, CPU and CUDA).

>>> import torch
>>> from tensorsight.ops import DeformConv2d
>>> layer = DeformConv2d(1, 2, kernel_size=3)
>>> offset = torch.zeros(1, 2 * 3 * 3, 3, 3)
>>> layer(torch.randn(1, 1, 5, 5), offset).shape
torch.Size([1, 2, 3, 3])
"""

from __future__ import annotations

from tensorsight.ops.deform_conv import (
    DeformConv2d,
    deform_conv2d,
    deform_conv2d_torch,
    sampling_positions,
    torchvision_deform_conv2d,
)

__all__ = [
    "DeformConv2d",
    "deform_conv2d",
    "deform_conv2d_torch",
    "sampling_positions",
    "torchvision_deform_conv2d",
]
