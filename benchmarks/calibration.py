"""Calibration benchmark: `python -m benchmarks.calibration` = `advisor calibrate` writing JSON to benchmarks/results/."""

import sys

from advisor.cli import main

if __name__ == "__main__":
    sys.exit(main(["calibrate", "--json", "benchmarks/results/calibration.json", *sys.argv[1:]]))
