"""`files:GLOB`: a family of the user's own instance files (MPS, LP or QPS, plain or gzipped, or
benchmark ``.mat`` QPs).

The instances are the files themselves, as an OR team keeps them (one a day, one a plant,
...): same structure, new data. Each file belongs for good to the training pool or to the
held-out pool, decided by a hash of its content (``held_out``, default a fifth, go to the
second), so adding files later never moves one across, and a benchmark never tests a model on
a file it was trained on. ``sample`` draws from the training pool, ``sample_held_out`` from
the other, each in a seeded order. Files that a cold solve (HiGHS) does not find optimal are
dropped by ``learned_solvers.training.data``, as for ``mps:PATH``.
"""

from __future__ import annotations

import glob
import hashlib
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import ClassVar

import numpy as np

from learned_solvers.canonical import QPData
from learned_solvers.formats.mps import PROBLEM_SUFFIXES, read_problem

from .mps_family import continuous_only


@dataclass(frozen=True, kw_only=True)
class FilesFamily:
    # a fixed pool: labelling cannot draw further files to replace those it drops
    refills: ClassVar[bool] = False

    pattern: str
    held_out: float = 0.2
    name: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        if not 0.0 < self.held_out < 1.0:
            raise ValueError(f"files:{self.pattern}: held_out must lie in (0, 1), got {self.held_out}")
        if not self.name:
            object.__setattr__(self, "name", f"files:{self.pattern}")

    def spec(self) -> str:
        return f"files:{self.pattern},held_out={self.held_out}"

    @cached_property
    def pools(self) -> tuple[tuple[Path, ...], tuple[Path, ...]]:
        """(training files, held-out files), each sorted by path."""
        paths = sorted(Path(p) for p in glob.glob(self.pattern, recursive=True)
                       if Path(p).is_file() and p.lower().endswith(PROBLEM_SUFFIXES))
        if not paths:
            raise ValueError(f"files:{self.pattern} matches no .mps, .lp or .qps file (plain or .gz) nor .mat; "
                             "quote the pattern so that the shell does not expand it, e.g. 'files:data/*.mps.gz'")
        cut = int(self.held_out * 2**32)
        test = {p for p in paths if int.from_bytes(hashlib.sha256(p.read_bytes()).digest()[:4], "big") < cut}
        return tuple(p for p in paths if p not in test), tuple(p for p in paths if p in test)

    def _draw(self, pool: tuple[Path, ...], which: str, count: int, seed: int) -> list[QPData]:
        if count > len(pool):
            train, test = self.pools
            total = len(train) + len(test)
            said = (f"files:{self.pattern}: {total} file{'s' * (total != 1)}, {len(train)} for training and "
                    f"{len(test)} held out (held_out={self.held_out}, by content); {count} {which} asked. ")
            if pool:
                raise ValueError(said + f"Ask for at most {len(pool)} (--{'train' if which == 'training' else 'test'})")
            # "ask for at most 0" would leave nothing to do: the split itself must change
            raise ValueError(said + f"Match more files, or send more to the {which} side with held_out (e.g. "
                             f"'files:{self.pattern},held_out={0.5 if which != 'training' else 0.1}')")
        order = np.random.default_rng(seed).permutation(len(pool))[:count]
        out = []
        for i in order:
            qp = continuous_only(read_problem(pool[i]), str(pool[i]))
            out.append(qp.with_data(name=pool[i].name))
        return out

    def sample(self, count: int, *, seed: int) -> list[QPData]:
        """``count`` files of the training pool, in a seeded order."""
        return self._draw(self.pools[0], "training", count, seed)

    def sample_held_out(self, count: int, *, seed: int) -> list[QPData]:
        """``count`` files of the held-out pool, in a seeded order."""
        return self._draw(self.pools[1], "held-out", count, seed)
