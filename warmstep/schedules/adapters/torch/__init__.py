"""torch.optim.lr_scheduler (2.13) and torch.optim.swa_utils.SWALR, reproduced with numpy.

Importing this package registers every kind. ``_chain`` simulates torch's shared-optimizer
scheduler objects (construction side effects, SequentialLR / ChainedScheduler routing), ``_ops``
and ``_scan`` replay the lr writes with torch's own arithmetic.
"""

from warmstep.schedules.adapters.torch import (
    composite,
    cosine,
    cyclic,
    functional,
    plateau,
    simple,
    swa,
)

__all__ = ["composite", "cosine", "cyclic", "functional", "plateau", "simple", "swa"]
