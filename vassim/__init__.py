"""A local stand-in for Huawei Cloud VAS (and, later, VIAS): Django-free, used by the
``runsimulator`` and ``demo`` commands, the tests and the benchmarks."""
