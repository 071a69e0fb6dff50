"""Loads a checkpoint written by trainer_checkpoint_fixture into torch.nn.LSTM.

The reader below follows the safetensors spec from scratch (8-byte little-endian header
length, JSON header, raw little-endian data) instead of using our C++ reader, so it checks
our writer against the format, not against itself. Debian 12 has no python3-safetensors.

usage: torch_load_check.py PATH/TO/trainer_checkpoint_fixture   (exit 77: torch missing)
"""
import json
import math
import os
import struct
import subprocess
import sys
import tempfile
import zlib

try:
    import torch
except ImportError:
    print("torch is not installed for", sys.executable)
    sys.exit(77)


def read_safetensors(path):
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    assert len(blob) >= 8 + n, "truncated header"
    header = json.loads(blob[8:8 + n].decode("utf-8"))
    assert (8 + n) % 8 == 0, "data section not 8-byte aligned"
    data = blob[8 + n:]
    metadata = header.pop("__metadata__", {})
    tensors = {}
    covered = 0
    for name, entry in sorted(header.items(), key=lambda item: item[1]["data_offsets"][0]):
        assert entry["dtype"] == "F32", entry
        begin, end = entry["data_offsets"]
        assert begin == covered, f"{name}: hole or overlap"
        count = math.prod(entry["shape"])
        assert end - begin == 4 * count, name
        values = struct.unpack(f"<{count}f", data[begin:end])
        tensors[name] = torch.tensor(values, dtype=torch.float32).reshape(entry["shape"])
        covered = end
    assert covered == len(data), "trailing bytes"
    if "data_crc32" in metadata:
        assert metadata["data_crc32"] == "%08x" % zlib.crc32(data), "crc mismatch"
    return tensors, metadata


def main():
    fixture = sys.argv[1]
    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, "model.safetensors")
        subprocess.run([fixture, path], check=True)
        tensors, metadata = read_safetensors(path)

    assert metadata["format"] == "pt"
    document = json.loads(metadata["rnnlab"])
    assert document["step"] == 7, document

    # Values are sin(0.37 j + k) for the k-th tensor in writing order (= offset order).
    for k, (name, tensor) in enumerate(tensors.items()):
        expected = torch.tensor([math.sin(0.37 * j + k) for j in range(tensor.numel())],
                                dtype=torch.float32).reshape(tensor.shape)
        assert torch.equal(tensor, expected), name

    lstm = torch.nn.LSTM(input_size=3, hidden_size=4, num_layers=2, bidirectional=True)
    state = {name[len("rnn."):]: t for name, t in tensors.items() if name.startswith("rnn.")}
    lstm.load_state_dict(state, strict=True)  # raises on a missing, extra or misshaped key
    for name, parameter in lstm.named_parameters():
        assert torch.equal(parameter.detach(), state[name]), name
    output, _ = lstm(torch.ones(5, 2, 3))
    assert output.shape == (5, 2, 8) and torch.isfinite(output).all()
    print("loaded", len(state), "tensors into torch.nn.LSTM; strict load_state_dict passed")


if __name__ == "__main__":
    main()
