"""The memory bandwidth of the machine, measured once per `make bench` run (a process of
its own per round, as every asv benchmark): `benchmarks.bandwidth.stream_gbps`. The report
divides each SELU case's GB/s by it."""

from . import bandwidth


class Memory:
    rounds = 2
    timeout = 120

    def track_stream_gbps(self):
        return bandwidth.stream_gbps()

    track_stream_gbps.unit = "GB/s"
