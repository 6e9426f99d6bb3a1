"""Toy problems with exact answers for the ``sde_core`` tests (torchsde's ``problems.py``).

Data live on the channel axis: a latent ``[B, C, H, W]`` holds ``B * H * W`` independent
draws of a ``C``-dimensional distribution whose exact denoiser ``E[x0 | x_t]`` is closed
form, for any schedule ``x_t = a x0 + b eps``.

Run ``PYTHONPATH=. python tests/core_problems.py`` from the repository root to print the KL table of docs/findings.md ("Why SDE").
"""

from __future__ import annotations

import math

import pytest
import torch

import sde_core
from studies.exact_mixture import flow_sigmas, sd15_alphas_cumprod, sd15_sigmas  # noqa: F401  (the schedules' one home)

DTYPE = torch.float64


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny tensors on a shared machine: torch's intra-op threads only contend (30x slower).

    Import it into a test module (``from core_problems import one_thread``) to apply it there.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# --------------------------------------------------------------------------- data problems
class GaussianMixture:
    """``sum_k w_k N(mu_k, diag(var_k))`` in ``C`` dims, with its exact denoiser."""

    def __init__(self, weights, means, variances, dtype=DTYPE):
        self.weights = torch.as_tensor(weights, dtype=dtype)
        self.means = torch.as_tensor(means, dtype=dtype)  # [K, C]
        self.variances = torch.as_tensor(variances, dtype=dtype)  # [K, C]

    @property
    def channels(self) -> int:
        return self.means.shape[1]

    def sample(self, shape, generator, dtype=DTYPE):
        """Draws shaped ``[B, C, H, W]`` (``shape`` without C: ``(B, H, W)``)."""
        batch, height, width = shape
        n = batch * height * width
        comp = torch.multinomial(self.weights, n, replacement=True, generator=generator)
        eps = torch.randn(n, self.channels, generator=generator, dtype=DTYPE)
        flat = self.means[comp] + self.variances[comp].sqrt() * eps
        return flat.reshape(batch, height, width, -1).permute(0, 3, 1, 2).to(dtype).contiguous()

    def data_mean(self):
        return (self.weights[:, None] * self.means).sum(0)

    def data_var(self):
        mean = self.data_mean()
        second = (self.weights[:, None] * (self.variances + self.means**2)).sum(0)
        return second - mean**2

    def data_cov(self):
        """Full covariance: the components' means make the channels correlated."""
        mean = self.data_mean()
        second = (self.weights[:, None, None] * (torch.diag_embed(self.variances)
                  + self.means[:, :, None] * self.means[:, None, :])).sum(0)
        return second - mean[:, None] * mean[None, :]

    def marginal_cov(self, schedule, sigma):
        """Covariance of ``x_sigma = a x0 + b eps``: ``a^2 Cov[x0] + b^2 I``."""
        a, b = schedule.a(sigma), schedule.b(sigma)
        return a**2 * self.data_cov() + b**2 * torch.eye(self.channels, dtype=self.means.dtype)

    def marginal_moments(self, schedule, sigma):
        """Per-channel mean and variance of ``x_sigma = a x0 + b eps``."""
        a, b = schedule.a(sigma), schedule.b(sigma)
        return a * self.data_mean(), a**2 * self.data_var() + b**2

    def denoiser(self, schedule):
        """``model(x, sigma_vector) -> E[x0 | x_sigma = x]`` (k-diffusion's contract)."""

        def model(x, sigma, **kwargs):
            shape = [-1] + [1] * (x.ndim - 1)
            s = sigma.to(DTYPE).reshape(shape)
            a, b = schedule.a(s), schedule.b(s)
            xd = x.to(DTYPE)
            mu = self.means[:, None, :, None, None]  # [K, 1, C, 1, 1]
            var = self.variances[:, None, :, None, None]
            v = a**2 * var + b**2  # marginal variance of component k
            log_p = -0.5 * (((xd - a * mu) ** 2) / v + torch.log(2 * math.pi * v)).sum(2, keepdim=True)
            resp = torch.softmax(torch.log(self.weights)[:, None, None, None, None] + log_p, dim=0)
            post = mu + var * a / v * (xd - a * mu)
            return (resp * post).sum(0).to(x.dtype)

        return model


class Gaussian(GaussianMixture):
    """``N(mu, diag(var))``: one component, so every marginal is Gaussian in closed form."""

    def __init__(self, mean, variance, dtype=DTYPE):
        super().__init__([1.0], [mean], [variance], dtype)


GAUSSIAN = Gaussian([0.5, -1.0, 2.0], [0.25, 1.0, 2.0])
MIXTURE = GaussianMixture(
    [0.3, 0.7],
    [[-1.0, 0.5, 0.0], [1.5, -0.5, 1.0]],
    [[0.2, 0.5, 0.3], [0.4, 0.3, 0.6]],
)


# --------------------------------------------------------------------------- schedules
def edit_sigmas(schedule, steps, t0):
    """``steps`` denoising levels starting at edit time ``t0`` (a full schedule cut by t0)."""
    full = round(steps / t0)
    sigmas = sd15_sigmas(full) if schedule.kind == "vp" else flow_sigmas(full)
    out = sde_core.t0_sigmas(sigmas, t0)
    assert len(out) == steps + 1, (steps, t0, len(out))
    return out


def recorded_mixture(schedule, steps, t0, shape, seed):
    """``(x0, sigmas, trajectory)``: a MIXTURE sample of ``shape`` and its Cycle-SDE recording
    over ``edit_sigmas(schedule, steps, t0)``, both drawn from one generator seeded ``seed``."""
    sigmas = edit_sigmas(schedule, steps, t0)
    gen = torch.Generator().manual_seed(seed)
    x0 = MIXTURE.sample(shape, gen)
    return x0, sigmas, sde_core.record_forward(x0, sigmas, schedule, generator=gen)


# --------------------------------------------------------------------------- the KL claim
def gaussian_kl(m1, v1, m2, v2):
    """``KL(N(m1, diag v1) || N(m2, diag v2))``, summed over dims."""
    return 0.5 * (v1 / v2 - 1 - torch.log(v1 / v2) + (m1 - m2) ** 2 / v2).sum().item()


def step_moments(problem, schedule, mean, var, sigma, sigma_next, eta):
    """Push ``N(mean, diag var)`` through one ``sde_core.eta_step`` with the exact denoiser.

    With a Gaussian problem the step is affine per dim, ``x -> A x + c + eta std w``: ``c``
    and ``A`` are read off the step function itself (at ``mean`` and ``mean + 1``, noise 0),
    so the table measures the very sampler the pack runs.
    """
    model = problem.denoiser(schedule)
    sig = torch.full([1], sigma, dtype=DTYPE)
    points = torch.stack([mean, mean + 1]).reshape(2, -1, 1, 1)
    zero = torch.zeros_like(points)
    out = sde_core.eta_step(schedule, points, model(points, sig.expand(2)), sigma, sigma_next, eta, zero)
    gain = (out[1] - out[0]).flatten()
    _, _, std = sde_core.posterior(schedule, sigma, sigma_next)
    return out[0].flatten(), gain**2 * var + (eta * std) ** 2


def kl_rows(problem=GAUSSIAN, schedule=sde_core.VP, steps=50, t0=0.6, shift=1.0, rescale=1.5):
    """KL over the denoising steps for the SDE (eta 1) and ODE (eta 0) samplers.

    The edited start is the true marginal at ``t0`` shifted by ``shift`` standard deviations
    and with its standard deviation multiplied by ``rescale``. The reference is the *same*
    sampler started from the true marginal; ``p_s`` is the exact data marginal (information
    only). Rows: ``(j, sigma, kl_sde_ref, kl_ode_ref, kl_sde_data, kl_ode_data)`` where row
    ``j`` describes the latents after ``j`` steps.
    """
    sigmas = edit_sigmas(schedule, steps, t0).tolist()
    true_mean, true_var = problem.marginal_moments(schedule, sigmas[0])
    edited = (true_mean + shift * true_var.sqrt(), rescale**2 * true_var)
    state = {eta: (edited, (true_mean, true_var)) for eta in (1.0, 0.0)}
    rows = []
    for j, sigma in enumerate(sigmas):
        p_s = problem.marginal_moments(schedule, sigma)
        kls = {}
        for eta, (q, ref) in state.items():
            kls[eta] = (gaussian_kl(*q, *ref), gaussian_kl(*q, *p_s))
        rows.append((j, sigma, kls[1.0][0], kls[0.0][0], kls[1.0][1], kls[0.0][1]))
        if j + 1 < len(sigmas):
            for eta, (q, ref) in state.items():
                step = lambda m, v: step_moments(problem, schedule, m, v, sigma, sigmas[j + 1], eta)  # noqa: E731
                state[eta] = (step(*q), step(*ref))
    return rows


def format_kl_table(rows, every=5):
    """Markdown table of ``kl_rows`` (every ``every``-th row and the last)."""
    lines = [
        "| step | sigma | KL SDE vs same sampler from p_t0 | KL ODE vs same sampler from p_t0 "
        "| KL SDE vs p_s | KL ODE vs p_s |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        if row[0] % every == 0 or row is rows[-1]:
            j, sigma, *kl = row
            lines.append(f"| {j} | {sigma:.4f} | " + " | ".join(f"{v:.6f}" for v in kl) + " |")
    return "\n".join(lines)


def kl_report():
    """docs/findings.md's table: SD1.5's schedule and a rectified flow, 50 steps from t0 = 0.6."""
    parts = []
    for schedule in (sde_core.VP, sde_core.FLOW):
        parts.append(
            f"{schedule.kind}: 3-D Gaussian, 50 steps from t0 = 0.6, start = true marginal "
            f"shifted by 1 std and widened 1.5x\n\n" + format_kl_table(kl_rows(schedule=schedule))
        )
    return "\n\n".join(parts)


if __name__ == "__main__":
    print(kl_report())
