"""`mpc`: linear MPC of a small linear system with box constraints, one QP per time step.

    minimise  sum_t x_t'Q x_t + u_t'R u_t + x_T'Q_T x_T
    s.t.      x_{t+1} = A x_t + B u_t,  x_0 = given,  |u_t| <= u_max,  |x_t| <= x_max

Variables (x_0..x_T, u_0..u_{T-1}); the instances differ in the initial state x_0 (the
measured state at each control step). Parameters: ``states``, ``inputs``, ``horizon``,
``structure_seed`` (the system), ``spread`` (scale of the initial states).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from learned_solvers.canonical import QPData


@dataclass(frozen=True, kw_only=True)
class MPC:
    states: int = 6
    inputs: int = 3
    horizon: int = 20
    u_max: float = 0.5
    x_max: float = 5.0
    spread: float = 3.0
    structure_seed: int = 0
    name: str = "mpc"

    def __post_init__(self) -> None:
        sizes = (self.states, self.inputs, self.horizon)
        if min(sizes) < 1 or not (0 < self.u_max < np.inf and 0 < self.x_max < np.inf and 0 <= self.spread < np.inf) \
                or self.structure_seed < 0:
            raise ValueError(f"mpc needs states, inputs and horizon >= 1, finite u_max > 0, x_max > 0 and spread >= 0, "
                             f"and structure_seed >= 0, got {self}")

    def spec(self) -> str:
        return (f"mpc:states={self.states},inputs={self.inputs},horizon={self.horizon},u_max={self.u_max},"
                f"x_max={self.x_max},spread={self.spread},structure_seed={self.structure_seed}")

    def legacy_spec(self) -> str | None:
        """How checkpoints spelt this family before the spec named its bounds, spread and
        ``structure_seed`` (then at their defaults)."""
        defaults = (self.u_max, self.x_max, self.spread, self.structure_seed) == (0.5, 5.0, 3.0, 0)
        return self.spec().partition(",u_max=")[0] if defaults else None

    def sample(self, count: int, *, seed: int) -> list[QPData]:
        nx, nu, T = self.states, self.inputs, self.horizon
        srng = np.random.default_rng(self.structure_seed)
        ad = np.eye(nx) + 0.1 * srng.standard_normal((nx, nx))
        ad /= max(1.0, np.abs(np.linalg.eigvals(ad)).max() / 1.02)  # mildly unstable at most
        bd = srng.standard_normal((nx, nu))
        q, r = np.eye(nx), 0.1 * np.eye(nu)
        p = sp.block_diag([sp.kron(sp.identity(T), q), 10 * q, sp.kron(sp.identity(T), r)]).tocsr() * 2
        # dynamics: -x_{t+1} + A x_t + B u_t = 0 ; x_0 = x_init
        ax = sp.kron(sp.identity(T + 1), -sp.identity(nx)) + sp.kron(sp.eye(T + 1, k=-1), ad)
        bu = sp.kron(sp.vstack([sp.csr_matrix((1, T)), sp.identity(T)]), bd)
        a = sp.hstack([ax, bu]).tocsr()
        nv = (T + 1) * nx + T * nu
        lb = np.concatenate([np.full((T + 1) * nx, -self.x_max), np.full(T * nu, -self.u_max)])
        ub = -lb
        rng = np.random.default_rng(seed)
        out = []
        for i in range(count):
            x0 = self.spread * rng.uniform(-1, 1, nx)
            rhs = np.zeros((T + 1) * nx)
            rhs[:nx] = -x0
            out.append(QPData(c=np.zeros(nv), A=a, l=rhs, u=rhs.copy(), lb=lb, ub=ub, P=p,
                              name=f"mpc[{seed}:{i}]"))
        return out
