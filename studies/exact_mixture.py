"""An exact-score model rich enough for a drag to mean something (issue 19, item 1).

Images ``[B, 1, n, n]`` of one square object on a stationary Gaussian texture, the object at
any of the ``K = n^2`` cells with equal weight (periodic boundaries):

    x0 = m_p + t,    p ~ Uniform(cells),    t ~ N(0, C),

``m_p`` the object template (a ``side x side`` square of height ``amplitude``) centred at
``p``, ``C`` a stationary texture covariance, diagonal in the Fourier basis with spectrum
``S(f)`` (normalised to unit pixel variance). For ``x = a(sigma) x0 + b(sigma) eps`` (any
``sde_core.Schedule``), component ``p`` is ``N(a m_p, Sigma)`` with ``Sigma`` diagonal in
Fourier, eigenvalues ``v = a^2 S + b^2``; everything is closed form and costs a few FFTs:

- component posterior: ``r_p(x) = softmax_p(a m_p^T Sigma^-1 x)`` (``m_p^T Sigma^-1 m_p`` is
  the same for every p), a circular cross-correlation;
- denoiser (Wiener filter per component, mixed by ``r``):
  ``E[x0 | x] = F^-1[(a S / v) F x + (b^2 / v) F m_bar]``, ``m_bar = sum_p r_p m_p``;
- log-density: ``log p(x) = logsumexp_p(-q_p / 2) - log K - (D log 2 pi + sum log v) / 2``,
  ``q_p = (x - a m_p)^T Sigma^-1 (x - a m_p)``.

No ComfyUI import. ``drag`` runs the paper's drag on it with sde_core's own functions
(record_forward / ddim_invert, copy_paste, sample_cycle_sde / sample_ode_masked).
"""

from __future__ import annotations

import math

import torch

import sde_core

DTYPE = torch.float64
SD15_SIGMA_MIN = 0.029167532920837402  # sqrt((1 - ac[0]) / ac[0]) of SD1.5's schedule


class TexturedObjectScenes:
    """The mixture over object positions on a stationary texture (see the module doc)."""

    def __init__(self, size=16, side=4, amplitude=2.0, correlation=1.5, dtype=DTYPE):
        self.size, self.side, self.amplitude, self.dtype = size, side, amplitude, dtype
        freq = torch.fft.fftfreq(size, dtype=dtype)
        radius2 = freq[:, None] ** 2 + freq[None, :] ** 2
        spectrum = (1 + (2 * math.pi * correlation) ** 2 * radius2) ** -1.5  # Matern-like texture
        self.spectrum = spectrum / spectrum.mean()  # pixel variance 1
        template = torch.zeros(size, size, dtype=dtype)
        half = side // 2
        rows = torch.arange(-half, side - half) % size
        template[rows[:, None], rows[None, :]] = amplitude  # square centred at cell (0, 0)
        self.template = template
        self.template_f = torch.fft.fft2(template)
        self.dim = size * size

    # ------------------------------------------------------------------ data
    def object_at(self, points):
        """``m_p`` for ``points`` ``[B, 2]`` integer ``(x, y)`` cells: ``[B, 1, n, n]``."""
        points = torch.as_tensor(points).long().reshape(-1, 2)
        return torch.stack([torch.roll(self.template, (int(y), int(x)), (0, 1)) for x, y in points])[:, None]

    def texture(self, batch, generator):
        """``batch`` draws of ``N(0, C)``: white noise filtered by ``sqrt(S)``."""
        white = torch.randn(batch, 1, self.size, self.size, generator=generator, dtype=self.dtype)
        return torch.fft.ifft2(self.spectrum.sqrt() * torch.fft.fft2(white)).real

    def sample(self, batch, generator, points=None):
        """Scenes ``[B, 1, n, n]``: object at ``points`` (``[B, 2]`` or one ``(x, y)``), or at
        uniform cells when None (then a true draw of the data distribution)."""
        if points is None:
            points = torch.randint(0, self.size, (batch, 2), generator=generator)
        else:
            points = torch.as_tensor(points).long().reshape(-1, 2).expand(batch, 2)
        return self.object_at(points) + self.texture(batch, generator)

    # ------------------------------------------------------------------ closed forms
    def _coefficients(self, schedule, sigma, x):
        sigma = torch.as_tensor(sigma, dtype=self.dtype).reshape(-1, 1, 1, 1).expand(x.shape[0], 1, 1, 1)
        a, b = schedule.a(sigma), schedule.b(sigma)
        return a, b, a**2 * self.spectrum + b**2

    def _logits(self, x_f, a, v):
        """``a m_p^T Sigma^-1 x`` for every cell p: ``[B, n, n]``."""
        corr = torch.fft.ifft2(x_f / v * self.template_f.conj()).real  # sum_y m(y - p) (Sigma^-1 x)(y)
        return (a * corr)[:, 0]

    def component_posterior(self, x, sigma, schedule=sde_core.VP):
        """``r_p(x) = P(object at p | x_sigma = x)``: ``[B, n, n]``, indexed ``[y, x]``."""
        x = x.to(self.dtype)
        a, _, v = self._coefficients(schedule, sigma, x)
        logits = self._logits(torch.fft.fft2(x), a, v)
        return torch.softmax(logits.flatten(1), 1).reshape(logits.shape)

    def log_prob(self, x, sigma=0.0, schedule=sde_core.VP):
        """Exact ``log p_sigma(x)`` of ``x_sigma = a x0 + b eps``, per image ``[B]``."""
        x = x.to(self.dtype)
        a, _, v = self._coefficients(schedule, sigma, x)
        x_f = torch.fft.fft2(x)
        whitened = torch.fft.ifft2(x_f / v).real
        quad_x = (x * whitened).flatten(1).sum(1)
        quad_m = (self.template_f.abs() ** 2 / v).flatten(1).sum(1) / self.dim  # Parseval, unnormalised FFT
        logits = self._logits(x_f, a, v).flatten(1)
        quad = quad_x[:, None] - 2 * logits + a.reshape(-1, 1) ** 2 * quad_m[:, None]
        log_det = torch.log(v).expand(x.shape[0], 1, self.size, self.size).flatten(1).sum(1)
        return (torch.logsumexp(-0.5 * quad, 1) - math.log(self.dim)
                - 0.5 * (self.dim * math.log(2 * math.pi) + log_det))

    def denoise(self, x, sigma, schedule=sde_core.VP):
        """``E[x0 | x_sigma = x]`` (``[B, 1, n, n]``), Wiener filters mixed by ``r``."""
        xd = x.to(self.dtype)
        a, b, v = self._coefficients(schedule, sigma, xd)
        x_f = torch.fft.fft2(xd)
        weights = torch.softmax(self._logits(x_f, a, v).flatten(1), 1).reshape(-1, 1, self.size, self.size)
        m_bar_f = torch.fft.fft2(weights) * self.template_f  # sum_p r_p m_p, a circular convolution
        return torch.fft.ifft2(a * self.spectrum / v * x_f + b**2 / v * m_bar_f).real.to(x.dtype)

    def denoiser(self, schedule=sde_core.VP, counter=None):
        """``model(x, sigma_vector) -> E[x0 | x]`` (k-diffusion's contract); ``counter`` (a
        dict) gets ``calls`` and ``rows`` added per call."""

        def model(x, sigma, **kwargs):
            if counter is not None:
                counter["calls"] = counter.get("calls", 0) + 1
                counter["rows"] = counter.get("rows", 0) + x.shape[0]
            return self.denoise(x, sigma, schedule)

        return model

    def whiten(self, x, points):
        """``C^-1/2 (x - m_p)``: ``N(0, I)`` when ``x`` is a scene with its object at ``points``
        (one ``(x, y)`` for the batch or ``[B, 2]``)."""
        residual = x.to(self.dtype) - self.object_at(torch.as_tensor(points).reshape(-1, 2).expand(x.shape[0], 2))
        return torch.fft.ifft2(torch.fft.fft2(residual) / self.spectrum.sqrt()).real


# --------------------------------------------------------------------------- schedules
def sd15_alphas_cumprod():
    """SD1.5's scaled-linear DDPM schedule: betas from 0.00085 to 0.012 over 1000 steps."""
    betas = torch.linspace(0.00085**0.5, 0.012**0.5, 1000, dtype=DTYPE) ** 2
    return torch.cumprod(1 - betas, dim=0)


def sd15_sigmas(steps):
    """SD1.5's schedule at ``steps`` evenly spaced timesteps 999 -> 0, then 0 (the paper's
    DDIM-style spacing; ``steps`` is the full schedule, cut by ``sde_core.t0_sigmas``)."""
    ac = sd15_alphas_cumprod()
    timesteps = torch.linspace(999, 0, steps, dtype=DTYPE).round().long()
    sigmas = ((1 - ac[timesteps]) / ac[timesteps]).sqrt()
    return torch.cat([sigmas, sigmas.new_zeros(1)])


def flow_sigmas(steps, shift=3.0):
    """Rectified-flow levels 1 -> 0 with SD3's time shift ``shift s / (1 + (shift - 1) s)``."""
    s = torch.linspace(1, 0, steps + 1, dtype=DTYPE)
    return shift * s / (1 + (shift - 1) * s)


def drag_sigmas(steps, t0, schedule=sde_core.VP):
    """The paper's ``steps`` (full schedule) cut at ``t0``: ``round(t0 steps)`` denoising steps."""
    full = sd15_sigmas(steps) if schedule.kind == "vp" else flow_sigmas(steps)
    return sde_core.t0_sigmas(full, t0)


# --------------------------------------------------------------------------- the drag
def drag(model, latent, source, target, sigmas, *, method="sde", eta=1.0, r=3, alpha=1.1, beta=0.3,
         step_size=2, mask=None, generator=None, schedule=sde_core.VP, sigma_min=SD15_SIGMA_MIN):
    """The paper's drag with sde_core's functions, one point pair for the whole batch.

    ``method="sde"``: Cycle-SDE (``record_forward`` + ``sample_cycle_sde`` with ``eta``;
    ``eta = 1`` is SDE-Drag and draws its noise exactly as ``sde_core.sde_drag``);
    ``method="ode"``: ODE-Drag (``ddim_invert`` + ``sample_ode_masked``). Per sub-drag of
    ``plan_subdrags``: invert, ``copy_paste`` at ``sigmas[0]`` in the variance-preserving view,
    denoise. Returns the clean result.
    """
    if method not in ("sde", "ode"):
        raise ValueError(f"method must be 'sde' or 'ode', got {method!r}.")
    scale = schedule.vp_scale(sigmas[0].item())
    current = latent
    for src, tgt in sde_core.plan_subdrags([source], [target], step_size):
        if method == "sde":
            trajectory = sde_core.record_forward(current, sigmas, schedule, generator=generator)
        else:
            trajectory = sde_core.ddim_invert(model, current, sigmas, schedule=schedule, sigma_min=sigma_min, disable=True)
        start = trajectory.latent_at_t0
        noise = lambda shape: torch.randn(shape, generator=generator, dtype=start.dtype)  # noqa: E731 (per pair)
        edited = sde_core.copy_paste(start, src, tgt, r, alpha, beta, noise, scale)
        if method == "sde":
            current = sde_core.sample_cycle_sde(model, edited, sigmas, trajectory=trajectory, schedule=schedule,
                                                mask=mask, eta=eta, disable=True)
        else:
            current = sde_core.sample_ode_masked(model, edited, sigmas, trajectory=trajectory, schedule=schedule,
                                                 mask=mask, disable=True)
    return current


def pasted_latent(latent, source, target, sigmas, *, r=3, alpha=1.1, beta=0.3, generator=None, schedule=sde_core.VP):
    """The latent Cycle-SDE denoises in a one-sub-drag ``drag``: ``record_forward`` to
    ``sigmas[0]``, then ``copy_paste`` (the same draws, in the same order, from ``generator``)."""
    trajectory = sde_core.record_forward(latent, sigmas, schedule, generator=generator)
    noise = lambda shape: torch.randn(shape, generator=generator, dtype=latent.dtype)  # noqa: E731 (per pair)
    scale = schedule.vp_scale(sigmas[0].item())
    return sde_core.copy_paste(trajectory.latent_at_t0, [source], [target], r, alpha, beta, noise, scale)


def model_calls(method, steps, t0, n_subdrags):
    """Model calls and rows per image: SDE one call of 2 rows per step (edited + recorded),
    ODE one inversion and one denoising call of 1 row per step."""
    n = round(t0 * steps) * n_subdrags
    return (n, 2 * n) if method == "sde" else (2 * n, 2 * n)


# --------------------------------------------------------------------------- measures
def gaussian_fit_kl(z):
    """``KL(N(mean, diag var) || N(0, I))`` of the rows of ``z`` ``[N, D]``, summed over D."""
    mean, var = z.mean(0), z.var(0)
    return 0.5 * (var + mean**2 - 1 - torch.log(var)).sum().item()


def mean_ci(values, z=1.96):
    """``(mean, half-width)`` of a normal-approximation 95 % interval of the mean."""
    values = torch.as_tensor(values, dtype=DTYPE).flatten()
    return values.mean().item(), z * values.std().item() / len(values) ** 0.5


def _cell_distance(size, point):
    """Periodic Euclidean distance of every cell ``[y, x]`` to ``point`` ``(x, y)``."""
    cells = torch.arange(size, dtype=DTYPE)
    dx = (cells[None, :] - point[0]).abs()
    dy = (cells[:, None] - point[1]).abs()
    dx, dy = torch.minimum(dx, size - dx), torch.minimum(dy, size - dy)
    return (dx**2 + dy**2).sqrt()


def drag_measures(scenes, results, source, target, reference_log_prob):
    """Per-result measures of a drag from ``source`` to ``target`` (declared in eval_exact.py):

    - ``target_weight``: posterior weight of the target's component at sigma 0;
    - ``near_target``: weight of the 3 x 3 cells around the target (a 1-cell miss counts);
    - ``left_at_source``: weight of the 3 x 3 cells around the source;
    - ``position_error``: posterior-expected periodic distance to the target (cells);
    - ``log_prob``: exact ``log p_0``; ``atypical``: outside the central 98 % of
      ``reference_log_prob`` (fresh data);
    - ``whitened``: ``C^-1/2 (x - m_p)`` about each result's most likely position ``p``
      (``N(0, I)`` for data), for ``gaussian_fit_kl`` of the set.
    """
    post = scenes.component_posterior(results, 0.0)
    t_dist = _cell_distance(scenes.size, target)
    s_dist = _cell_distance(scenes.size, source)
    flat = post.flatten(1)
    best = flat.argmax(1)
    best_points = torch.stack([best % scenes.size, best // scenes.size], 1)
    log_prob = scenes.log_prob(results)
    low, high = reference_log_prob.quantile(torch.tensor([0.01, 0.99], dtype=DTYPE))
    whitened = scenes.whiten(results, best_points)
    return {
        "target_weight": post[:, int(target[1]), int(target[0])],
        "near_target": (post * (t_dist <= 1.5)).flatten(1).sum(1),
        "left_at_source": (post * (s_dist <= 1.5)).flatten(1).sum(1),
        "position_error": (post * t_dist).flatten(1).sum(1),
        "log_prob": log_prob,
        "atypical": ((log_prob < low) | (log_prob > high)).to(DTYPE),
        "whitened": whitened.flatten(1),
    }
