"""Detection quality on public labelled data (NAB, SMD and any data set in their layouts).

One concept per module: :mod:`datasets` (loaders), :mod:`nab_score` (NAB scoring rules),
:mod:`pointwise` (precision/recall/F1, point-adjust, events and lead time), :mod:`explain`
(HitRate@P%), :mod:`harness` (runs the production detector strictly online), :mod:`baselines`,
:mod:`report` (docs/results.md), :mod:`cli` (``make eval``, ``eval-matrix``, ``eval-nab``).
"""
