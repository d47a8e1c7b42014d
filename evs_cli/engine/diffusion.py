"""Pure diffusion arithmetic: one step is a function of (model output, level, sample).

Latents are kept in the DDIM form z_t = sqrt(a_t) * x0 + sqrt(1 - a_t) * eps for every model.
An Euler-discrete (Lightning) latent is the same thing divided by sqrt(a_t), so one
epsilon-prediction DDIM step with eta = 0 is also one Euler step on that grid.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

# The level a clean latent sits at: alpha_bar = 1 (what DDIMInverseScheduler calls initial_alpha_cumprod
# with set_alpha_to_one). No model is evaluated there: inversion evaluates the level it steps to.
CLEAN = -1


@dataclass(frozen=True)
class Grid:
    """One model's sampling grid: its timesteps (high to low) and its alpha_bar table."""

    timesteps: tuple[int, ...]
    alphas_cumprod: torch.Tensor  # float64, indexed by training timestep
    prediction_type: str = "epsilon"
    sampler: str = "ddim"  # "ddim" (eta = 0, also Euler's step) or "lcm": consistency steps with fresh noise
    timestep_scaling: float = 10.0  # LCM's boundary condition (LCMScheduler.config.timestep_scaling)

    @property
    def steps(self) -> int:
        return len(self.timesteps)

    def alpha(self, t: int) -> float:
        return 1.0 if t == CLEAN else float(self.alphas_cumprod[t])

    def levels(self, remaining: int, calls: int) -> list[int]:
        """The `calls` timesteps visited when denoising starts with `remaining` steps left."""
        if not 1 <= remaining <= self.steps:
            raise ValueError(f"start must be in 1..{self.steps} remaining steps, got {remaining}")
        if not 1 <= calls <= remaining:
            raise ValueError(f"calls must be in 1..{remaining} for a start of {remaining}, got {calls}")
        first = self.steps - remaining
        return list(self.timesteps[first : first + calls])

    def below(self, t: int) -> int:
        """The next lower level on the grid (CLEAN under the last one)."""
        i = self.timesteps.index(t)
        return self.timesteps[i + 1] if i + 1 < self.steps else CLEAN

    @classmethod
    def from_scheduler(cls, scheduler, steps: int) -> "Grid":
        """Read the grid from a configured diffusers scheduler (DDIM, Euler, ...), not from constants."""
        scheduler.set_timesteps(steps)
        ts = [float(t) for t in scheduler.timesteps]
        if any(t != round(t) for t in ts):
            raise ValueError(f"{type(scheduler).__name__} gave non-integer timesteps {ts}")
        lcm = type(scheduler).__name__ == "LCMScheduler"
        return cls(
            timesteps=tuple(int(round(t)) for t in ts),
            alphas_cumprod=scheduler.alphas_cumprod.to(torch.float64).clone(),
            prediction_type=scheduler.config.get("prediction_type", "epsilon"),
            sampler="lcm" if lcm else "ddim",
            timestep_scaling=float(scheduler.config.get("timestep_scaling", 10.0)) if lcm else 10.0,
        )

    def consistency(self, x0_hat: torch.Tensor, sample: torch.Tensor, t: int) -> torch.Tensor:
        """LCM's boundary condition: the denoised sample c_out * x0_hat + c_skip * sample (sigma_data 0.5, as
        LCMScheduler), which is x0_hat itself but within a few levels of t = 0."""
        scaled, sigma = t * self.timestep_scaling, 0.5
        c_skip = sigma**2 / (scaled**2 + sigma**2)
        c_out = scaled / (scaled**2 + sigma**2) ** 0.5
        return c_out * x0_hat + c_skip * sample


def split_prediction(model_output: torch.Tensor, sample: torch.Tensor, alpha: float, prediction_type: str):
    """Model output at level alpha -> (predicted clean latent x0_hat, predicted noise eps_hat)."""
    a, b = alpha**0.5, (1.0 - alpha) ** 0.5
    if prediction_type == "epsilon":
        eps = model_output
        x0 = (sample - b * eps) / a
    elif prediction_type == "v_prediction":
        x0 = a * sample - b * model_output
        eps = a * model_output + b * sample
    elif prediction_type == "sample":
        x0 = model_output
        eps = (sample - a * x0) / b
    else:
        raise ValueError(f"unsupported prediction_type {prediction_type!r}")
    return x0, eps


def to_level(x0: torch.Tensor, eps: torch.Tensor, alpha: float) -> torch.Tensor:
    """sqrt(a) x0 + sqrt(1-a) eps: SDEdit noising with fresh eps, or a DDIM (eta=0) step with eps_hat."""
    return alpha**0.5 * x0 + (1.0 - alpha) ** 0.5 * eps
