"""The losses, written as the formulas say; the discriminator's raw output is a logit (a critic
score for WGAN-GP), so ``sigmoid(logit)`` is D(x).

Log loss (GAN Lab's): D minimises ``-[s * mean log D(x) + mean log(1 - D(G(z)))]`` with the
one-sided smoothing factor s = 0.95 on the real term; G minimises ``-mean log D(G(z))`` (the
non-saturating loss). ``minimax`` keeps that D but G minimises the saturating
``mean log(1 - D(G(z)))`` of the original paper. Least squares: D ``mean (D(x) - 1)² +
mean D(G(z))²``, G ``mean (D(G(z)) - 1)²``. WGAN-GP: critic ``mean C(G(z)) - mean C(x) +
λ mean (|∇C(x̂)| - 1)²`` on random interpolates x̂, G ``-mean C(G(z))``. The R1 penalty
(any loss but WGAN-GP) adds ``γ/2 mean |∇ logit(x)|²`` over the real points to D's loss.

>>> import torch
>>> round(float(d_loss("lsq", torch.zeros(2), torch.zeros(2), smoothing=0.95)), 3)
0.5
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def d_loss(loss: str, real: torch.Tensor, fake: torch.Tensor, *, smoothing: float) -> torch.Tensor:
    """The discriminator's loss from its logits on real and fake points (no penalty term)."""
    if loss in ("log", "minimax"):
        # log sigmoid(a) = -softplus(-a) and log(1 - sigmoid(a)) = -softplus(a), computed stably.
        return smoothing * F.softplus(-real).mean() + F.softplus(fake).mean()
    if loss == "lsq":
        return ((torch.sigmoid(real) - 1) ** 2).mean() + (torch.sigmoid(fake) ** 2).mean()
    return fake.mean() - real.mean()


def g_loss(loss: str, fake: torch.Tensor) -> torch.Tensor:
    """The generator's loss from the discriminator's logits on its fakes."""
    if loss == "log":
        return F.softplus(-fake).mean()
    if loss == "minimax":
        return -F.softplus(fake).mean()
    if loss == "lsq":
        return ((torch.sigmoid(fake) - 1) ** 2).mean()
    return -fake.mean()


def gradient_penalty(
    critic: torch.nn.Module, points: torch.Tensor, *, create_graph: bool = True
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(mean (|∇C(x̂)| - 1)², |∇C(x̂)| per point)`` at the interpolates ``points``."""
    points = points.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(points).sum(), points, create_graph=create_graph)
    norms = grad.norm(dim=1)
    return ((norms - 1) ** 2).mean(), norms.detach()


def r1_penalty(real_logits: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """``mean |∇_x logit(x)|² / 2`` over the real points ``real`` (which must require grad)."""
    (grad,) = torch.autograd.grad(real_logits.sum(), real, create_graph=True)
    return 0.5 * (grad**2).sum(1).mean()


def discriminator_value(loss: str, logits: torch.Tensor) -> torch.Tensor:
    """What the page shows as D(x): a probability, or the critic's unbounded score."""
    return logits if loss == "wgan-gp" else torch.sigmoid(logits)
