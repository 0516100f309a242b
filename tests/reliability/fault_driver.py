"""The real `gausslab` command with one fault armed (see faults.py), for tests that need a real process:

    python -m tests.reliability.fault_driver POINT ACTION N -- ARGS...
"""

import sys

from gausslab.cli import main
from tests.reliability import faults

if __name__ == "__main__":
    point, action, nth, dashes, *args = sys.argv[1:]
    assert dashes == "--", "usage: fault_driver POINT ACTION N -- ARGS..."
    faults.arm(point, action, int(nth))
    main(args)
