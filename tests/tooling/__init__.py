"""Tests of the tooling around the product: devkit (the proving ground), the benchmarks
(bench/) and the reliability suite's checker (local/reliability/)."""
