"""What the network looks at: attribution maps on the same runs the explainer captures.

>>> import torch
>>> from torch import nn
>>> from tensorsight.attribution import attribute
>>> model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Flatten(), nn.Linear(18, 3))
>>> attribute(model, torch.randn(1, 1, 5, 5), "saliency").map.shape
(5, 5)
"""

from tensorsight.attribution.api import attribute, gradcam_stages
from tensorsight.attribution.core import Attribution, class_scores, new_cancel_event
from tensorsight.attribution.errors import AttributionCancelled, AttributionError
from tensorsight.attribution.exemplars import (
    Exemplars,
    channel_crops,
    compute_exemplars,
    write_exemplars,
)
from tensorsight.attribution.methods import (
    METHODS,
    gauss_legendre,
    gradcam_plus_weights,
    layer_candidates,
    spatial_stages,
    window_starts,
)
from tensorsight.attribution.receptive import (
    ReceptiveFields,
    effective_receptive_field,
    receptive_fields,
    spatial_nodes,
)
from tensorsight.attribution.session import AttributionSession, with_attribution
from tensorsight.attribution.taps import TapRun, tap_run

__all__ = [
    "METHODS",
    "Attribution",
    "AttributionCancelled",
    "AttributionError",
    "AttributionSession",
    "Exemplars",
    "ReceptiveFields",
    "TapRun",
    "attribute",
    "channel_crops",
    "class_scores",
    "compute_exemplars",
    "effective_receptive_field",
    "gauss_legendre",
    "gradcam_plus_weights",
    "gradcam_stages",
    "layer_candidates",
    "new_cancel_event",
    "receptive_fields",
    "spatial_nodes",
    "spatial_stages",
    "tap_run",
    "window_starts",
    "with_attribution",
    "write_exemplars",
]
