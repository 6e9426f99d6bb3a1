"""SDE_TRAJECTORY: what an inversion records, in the model's sampling space."""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ..sde_core import Schedule, Trajectory


@dataclass
class RecordedTrajectory:
    """`trajectory.states[i]` is the latent at `trajectory.sigmas[i]` in sampling space;
    `method` says which denoiser reproduces it ("sde": Cycle-SDE, "ode": DDIM)."""

    trajectory: Trajectory
    schedule: Schedule
    method: str
    latent_format: object
    sigma_min: float

    @property
    def sigmas(self) -> torch.Tensor:
        return self.trajectory.sigmas

    @property
    def sigma_t0(self) -> float:
        return float(self.trajectory.sigmas[0])

    def to_sampling_space(self, samples: torch.Tensor) -> torch.Tensor:
        """User-space LATENT noised at t0 -> x (see nodes/host.py, 'Latent spaces')."""
        return self.schedule.a(self.sigma_t0) * self.latent_format.process_in(samples.float().clone())

    def to_user_space(self, x: torch.Tensor) -> torch.Tensor:
        return self.latent_format.process_out(x / self.schedule.a(self.sigma_t0)).float()

    def check_matches(self, samples: torch.Tensor, name: str = "latent") -> None:
        recorded = tuple(self.trajectory.states.shape[1:])
        if tuple(samples.shape) != recorded:
            raise ValueError(f"{name}: shape {tuple(samples.shape)} differs from the recorded latent {recorded}; "
                             "denoise the latent that came out of this trajectory's inversion")
