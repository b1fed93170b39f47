"""Reads TensorBoard event files with tensorboard's own loader (which checks every record's CRC) for
test/parity/tensorboard.test.ts.

stdin: {"dir": a folder holding one events.out.tfevents.* file}
stdout: {"file_version": the first record's, "scalars": {tag: [[step, value], ...]}, "texts": {tag: [[step, text]]},
         "plugins": {tag: plugin name}}
"""
import glob
import json
import os
import sys

from tensorboard.backend.event_processing.event_file_loader import LegacyEventFileLoader


def main():
    req = json.load(sys.stdin)
    files = glob.glob(os.path.join(req["dir"], "events.out.tfevents.*"))
    if len(files) != 1:
        raise SystemExit(f"expected one event file in {req['dir']}, found {files}")
    out = {"file_version": None, "scalars": {}, "texts": {}, "plugins": {}}
    for event in LegacyEventFileLoader(files[0]).Load():
        if event.HasField("file_version"):
            out["file_version"] = event.file_version
        for value in event.summary.value:
            if value.HasField("metadata") and value.metadata.plugin_data.plugin_name:
                out["plugins"][value.tag] = value.metadata.plugin_data.plugin_name
            if value.HasField("simple_value"):
                out["scalars"].setdefault(value.tag, []).append([event.step, value.simple_value])
            elif value.HasField("tensor"):
                text = value.tensor.string_val[0].decode("utf-8")
                out["texts"].setdefault(value.tag, []).append([event.step, text])
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
