# The attacker of the race tests, run as an unprivileged user: swaps two entries of its own
# directory with renameat2(RENAME_EXCHANGE) as fast as it can until SIGTERM, then prints how
# many swaps it made. Arguments: the two names (relative to the working directory).
import ctypes
import os
import signal
import sys

RENAME_EXCHANGE = 2
AT_FDCWD = -100
libc = ctypes.CDLL(None, use_errno=True)
first, second = (name.encode() for name in sys.argv[1:3])
stopped = False


def stop(*_):
    global stopped
    stopped = True


signal.signal(signal.SIGTERM, stop)
swaps = 0
failures = 0
print("ready", flush=True)
while not stopped:
    if libc.renameat2(AT_FDCWD, first, AT_FDCWD, second, RENAME_EXCHANGE) == 0:
        swaps += 1
    else:
        failures += 1
        if failures > 1000 and swaps == 0:
            sys.exit(f"renameat2: {os.strerror(ctypes.get_errno())}")
print(swaps, flush=True)
