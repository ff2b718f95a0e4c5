#!/usr/bin/env python3
"""Reads a run directory's TensorBoard event files with TensorBoard's own EventAccumulator and
writes {"scalars": {tag: [[step, value], ...]}, "images": {tag: [[step, width, height], ...]}}
as JSON to OUT (TensorBoard's own messages, such as the purge notice of a resumed run, go to
the console). Used by tests/apps/tensorboard_test.cpp when `tensorboard` is installed.

  python3 tests/apps/read_tensorboard.py RUN_DIR OUT.json
"""
import json
import sys

from tensorboard.backend.event_processing import event_accumulator


def main():
    acc = event_accumulator.EventAccumulator(
        sys.argv[1], size_guidance={event_accumulator.SCALARS: 0, event_accumulator.IMAGES: 0})
    acc.Reload()
    tags = acc.Tags()
    out = {"scalars": {t: [[e.step, e.value] for e in acc.Scalars(t)] for t in tags["scalars"]},
           "images": {t: [[e.step, e.width, e.height] for e in acc.Images(t)] for t in tags["images"]}}
    with open(sys.argv[2], "w") as f:
        json.dump(out, f)


if __name__ == "__main__":
    main()
