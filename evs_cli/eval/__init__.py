"""Measuring videos: weight-free metrics (`metrics`), VBench's and the paper's metrics and their
networks (`vbench_metrics`, `amt`, `dover`, `dover_net`), whole folders (`evaluate`), the timing logs of `evs refine` (`log_records`) and visual
comparison (`compare`: pictures and a side-by-side MP4; `page`: the HTML page to watch versions on).

Layer rule: imports `evs_cli.errors`, `evs_cli.io` and its own modules; never the engine or the batch
machinery (a metric judges frames, however they were made).
"""
