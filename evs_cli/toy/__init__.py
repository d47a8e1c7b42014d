"""The toy world: procedural clips with prompts and their degradation (`data`), the small trained models
in `models/`, the quality bench (`bench`), `evs demo` (`demo`), and tiny random models in the real
architectures for tests and benchmarks (`tiny`).

Layer rule: may import every layer below it (engine, io, eval, batch); only the command line imports it.
"""
