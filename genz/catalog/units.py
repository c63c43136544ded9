"""Unit constants. Everything inside genz is SI: seconds, bytes, FLOPs, bytes/s, FLOP/s, watts.

Decimal prefixes (GB = 1e9 bytes) are used throughout, as in datasheets; binary prefixes
appear only where a quantity is defined that way (e.g. KV bytes per token shown in KiB).
"""

KB = 1e3
MB = 1e6
GB = 1e9
TB = 1e12
KiB = 1024.0
MiB = 1024.0**2
GiB = 1024.0**3
TFLOPS = 1e12  # FLOP/s
GFLOP = 1e9  # FLOPs
US = 1e-6  # seconds
MS = 1e-3  # seconds

#: most tokens one request may have as prompt or as output (the scenario table's and the use-case
#: library's ceiling: a typo such as 1e30 is an error, never a number)
MAX_TOKENS = 100_000_000
