"""Process and compile set-up for the engine's models, apart from the method.

    speed.py          compile and memory-layout speed-ups, the attention kernel
    compile_cache.py  where compiled graphs last (one folder per torch, Python and device model)
    cache_trust.py    only compiled entries evs signed reach PyTorch
"""
