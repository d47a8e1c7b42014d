"""A toy world where refinement can be measured: procedural clips, small trained models, degraded inputs."""
