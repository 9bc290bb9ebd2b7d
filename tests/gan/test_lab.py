"""GanLab against hand-written references: the D surface, the arrows, one epoch of training."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from tensorsight.gan import GanLab, GanSettings, SettingsError  # noqa: E402


def test_d_grid_is_the_discriminator_at_each_cell_centre():
    lab = GanLab("gaussians", seed=3)
    lab.train(20)
    grid = lab.snapshot()["d_grid"]
    for i, j in [(0, 0), (29, 0), (0, 29), (12, 17), (29, 29)]:
        centre = torch.tensor([[(i + 0.5) / 30, (j + 0.5) / 30]])
        expected = torch.sigmoid(lab.discriminator(centre))[0, 0].item()
        assert grid[i, j] == pytest.approx(expected, abs=1e-6)


def test_each_arrow_is_autograds_gradient_for_that_sample():
    lab = GanLab("ring", seed=1)
    lab.train(10)
    snap = lab.snapshot()
    for index in (0, 7, 149):
        x = torch.tensor(snap["fake"][index : index + 1], requires_grad=True)
        torch.sigmoid(lab.discriminator(x)).sum().backward()
        np.testing.assert_allclose(snap["gradients"][index], x.grad[0].numpy(), atol=1e-6)


def test_wgan_gp_interpolates_carry_their_gradient_norms():
    lab = GanLab("ring", seed=0, loss="wgan-gp", d_optimizer="adam", d_lr=0.001)
    lab.train(3)
    critic_before = copy.deepcopy(lab.discriminator)  # the norms are measured before the update
    lab.step_d()
    snap = lab.snapshot()
    assert snap["d_scale"] == "critic"
    x = torch.tensor(snap["interpolates"], requires_grad=True)
    critic_before(x).sum().backward()
    np.testing.assert_allclose(
        snap["interpolate_norms"], x.grad.norm(dim=1).numpy(), rtol=1e-5, atol=1e-6
    )
    assert snap["interpolates"].shape == (150, 2)


def reference_d_loss(loss, d, real, fake, s, weight):
    if loss == "wgan-gp":
        return reference_critic_loss(d, real, fake, s.gp_weight, weight)
    real = real.clone().requires_grad_(True)
    if loss in ("log", "minimax"):
        base = -(
            s.smoothing * torch.log(torch.sigmoid(d(real))).mean()
            + torch.log(1 - torch.sigmoid(d(fake))).mean()
        )
    else:
        base = ((torch.sigmoid(d(real)) - 1) ** 2).mean() + (torch.sigmoid(d(fake)) ** 2).mean()
    # R1: half the squared norm of the logit's gradient at each real point, averaged.
    (grad,) = torch.autograd.grad(d(real).sum(), real, create_graph=True)
    return base + s.r1_weight / 2 * (grad**2).sum(1).mean()


def reference_critic_loss(d, real, fake, gp_weight, weight):
    between = (weight * real + (1 - weight) * fake).requires_grad_(True)
    (grad,) = torch.autograd.grad(d(between).sum(), between, create_graph=True)
    penalty = ((grad.norm(dim=1) - 1) ** 2).mean()
    return d(fake).mean() - d(real).mean() + gp_weight * penalty


def reference_g_loss(loss, d_of_fake):
    probability = torch.sigmoid(d_of_fake)
    return {
        "log": -torch.log(probability).mean(),
        "minimax": torch.log(1 - probability).mean(),
        "lsq": ((probability - 1) ** 2).mean(),
        "wgan-gp": -d_of_fake.mean(),
    }[loss]


def first_update(name, parameters, grads, lr):
    """One step of SGD or of Adam from fresh state, written out."""
    out = []
    for p, g in zip(parameters, grads, strict=True):
        if name == "sgd":
            out.append(p - lr * g)
        else:
            m, v = 0.1 * g, 0.001 * g * g  # (1 - beta) * g, (1 - beta2) * g²
            m_hat, v_hat = m / (1 - 0.9), v / (1 - 0.999)
            out.append(p - lr * m_hat / (v_hat.sqrt() + 1e-8))
    return out


@pytest.mark.parametrize("loss", ["log", "minimax", "lsq", "wgan-gp"])
@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_one_epoch_equals_a_hand_written_update(loss, optimizer):
    lab = GanLab(
        "gaussians",
        seed=5,
        loss=loss,
        d_optimizer=optimizer,
        g_optimizer=optimizer,
        d_lr=0.05,
        g_lr=0.02,
        k_d=1,
        k_g=1,
        batch_size=64,
    )
    d, g = copy.deepcopy(lab.discriminator), copy.deepcopy(lab.generator)
    rng = torch.Generator().set_state(lab.rng.get_state())
    s = lab.settings
    real = lab.distribution.sample(s.batch_size, rng)
    fake = g(lab.noise(s.batch_size, rng)).detach()
    weight = torch.rand(s.batch_size, 1, generator=rng) if loss == "wgan-gp" else None
    d_params = list(d.parameters())
    grads = torch.autograd.grad(reference_d_loss(loss, d, real, fake, s, weight), d_params)
    new_d = first_update(optimizer, d_params, grads, s.d_lr)
    with torch.no_grad():
        for p, value in zip(d_params, new_d, strict=True):
            p.copy_(value)
    g_params = list(g.parameters())
    z = lab.noise(s.batch_size, rng)
    grads = torch.autograd.grad(reference_g_loss(loss, d(g(z))), g_params)
    new_g = first_update(optimizer, g_params, grads, s.g_lr)

    lab.train(1)
    for ours, theirs in zip(lab.discriminator.parameters(), new_d, strict=True):
        torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-6)
    for ours, theirs in zip(lab.generator.parameters(), new_g, strict=True):
        torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-6)


def test_k_d_and_k_g_count_updates():
    lab = GanLab("line", seed=0, k_d=3, k_g=2, d_optimizer="adam", g_optimizer="adam")
    lab.train(2)
    assert lab.d_optimizer.state[next(lab.discriminator.parameters())]["step"] == 6
    assert lab.g_optimizer.state[next(lab.generator.parameters())]["step"] == 4
    assert len(lab.history["d_loss"]) == 2


def test_same_seed_same_run_other_seed_other_run():
    a, b, c = GanLab("ring", seed=4), GanLab("ring", seed=4), GanLab("ring", seed=5)
    for lab in (a, b, c):
        lab.train(30)
    np.testing.assert_array_equal(a.snapshot()["fake"], b.snapshot()["fake"])
    assert not np.allclose(a.snapshot()["fake"], c.snapshot()["fake"])


def test_live_settings_keep_the_weights_architecture_restarts():
    lab = GanLab("line", seed=0)
    lab.train(5)
    weights = [p.clone() for p in lab.generator.parameters()]
    assert lab.update(g_lr=0.03, loss="lsq", k_d=2) is False
    assert lab.epoch == 5 and lab.g_optimizer.param_groups[0]["lr"] == 0.03
    assert all(torch.equal(a, b) for a, b in zip(weights, lab.generator.parameters(), strict=True))
    assert lab.update(g_neurons=4) is True
    assert lab.epoch == 0 and lab.generator[0].out_features == 4


def test_snapshot_is_plain_data():
    snap = GanLab("ring8", seed=0).snapshot()
    for key, value in snap.items():
        assert isinstance(value, int | float | str | dict | np.ndarray | None), key
    assert snap["modes"] == 8 and 0 <= snap["good_share"] <= 1
    assert snap["manifold"].shape == (441, 2) and snap["manifold_density"].shape == (20, 20)


def test_manifold_density_integrates_to_the_noise_mass():
    lab = GanLab("ring", seed=0, noise="uniform")
    snap = lab.snapshot()
    quads = snap["manifold"].reshape(21, 21, 2)
    a, b, c, d = quads[:-1, :-1], quads[1:, :-1], quads[1:, 1:], quads[:-1, 1:]
    cross = lambda p, q: p[..., 0] * q[..., 1] - p[..., 1] * q[..., 0]  # noqa: E731
    area = 0.5 * np.abs(cross(a, b) + cross(b, c) + cross(c, d) + cross(d, a))
    assert float((snap["manifold_density"] * area).sum()) == pytest.approx(1.0, rel=1e-3)


def test_drawn_points_and_one_d_mode():
    drawing = GanLab([[0.2, 0.2], [0.8, 0.8]], seed=0)
    assert drawing.distribution.name == "drawing"
    assert drawing.snapshot()["real"].min() > -0.2
    one_d = GanLab("bimodal1d", seed=0, noise_dim=1, loss="minimax")
    one_d.train(3)
    snap = one_d.snapshot()
    assert snap["dim"] == 1 and snap["fake"].shape == (150, 1)
    assert snap["d_curve"].shape == snap["curve_x"].shape == (101,)
    assert sum(snap["real_density"]) / 30 == pytest.approx(1.0)
    assert snap["manifold"].shape == (21, 1)


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"loss": "hinge"}, "loss must be one of"),
        ({"d_lr": -1}, "d_lr must be a number"),
        ({"g_neurons": 1.5}, "g_neurons must be a whole number"),
        ({"speed": 3}, "Unknown setting 'speed'"),
        ({"r1_weight": -0.1}, "r1_weight must be a number"),
    ],
)
def test_bad_settings_are_refused_with_a_sentence(changes, words):
    with pytest.raises(SettingsError, match=words) as caught:
        GanSettings().replace(**changes)
    assert caught.value.status == 400


@pytest.mark.parametrize("points", [[[2, 0.5]], [[0.1, 0.2, 0.3]], [], "ring9", [[math.nan, 0]]])
def test_bad_distributions_are_refused(points):
    with pytest.raises(SettingsError):
        GanLab(points)


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1])
def test_make_it_collapse_covers_few_of_the_eight_modes(seed):
    from tensorsight.gan.session import COLLAPSE_SETTINGS

    lab = GanLab("ring8", seed=seed, settings=COLLAPSE_SETTINGS)
    lab.train(500)
    snap = lab.snapshot()
    assert snap["modes_covered"] <= 2
    # Collapsed, not scattered: the fakes bunch in one spot, a fraction of the ring's spread,
    # and on the plot (a G that saturates tanh would park them at a corner, outside it).
    assert snap["fake"].std(0).max() < snap["real"].std(0).min() / 3
    assert ((snap["fake"] > 0) & (snap["fake"] < 1)).all()


def test_first_layer_kinks_start_inside_the_unit_square():
    # GAN Lab's zero biases put every ReLU kink through the corner (0, 0); ours go through
    # random points of the inputs' unit square, so the networks can bend over the data at once.
    corners = torch.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    lab = GanLab("line", seed=3)
    for network in (lab.generator, lab.discriminator):
        first = network[0]
        at_corners = corners @ first.weight.T + first.bias  # (4 corners, neurons)
        assert (first.bias != 0).all()
        # The kink w.x + b = 0 crosses the square: the corners are not all on one side.
        assert ((at_corners.min(0).values <= 0) & (at_corners.max(0).values >= 0)).all()


@pytest.mark.slow
def test_the_defaults_learn_the_line_from_scratch():
    lab = GanLab("line", seed=0)
    lab.train(500)
    assert lab.snapshot()["js"] <= lab.floor["js_floor"] + 0.15
