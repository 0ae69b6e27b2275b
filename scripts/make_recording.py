#!/usr/bin/env python3
"""Writes a recorded run for the `overhead` example: N questions x S samples.

Usage: make_recording.py DIR N S
"""
import json
import os
import random
import sys

out, n, s = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
os.makedirs(out, exist_ok=True)
rng = random.Random(7)
with open(os.path.join(out, "samples.jsonl"), "w") as f:
    for i in range(n):
        for k in range(s):
            answer = f"answer {i}" if rng.random() < 0.6 else f"the answer might be {rng.randint(0, 99)}"
            f.write(json.dumps({
                "eval": f"q{i:02}", "model": "recorded", "backend": "llama", "quantization": None,
                "digest": "recording", "template": "plain", "temperature": 0.0, "seed": 42, "sample": k,
                "prompt": {"chat": [{"role": "user", "content": f"Question {i}: what is the answer?"}]},
                "response": answer, "score": None, "error": None,
                "usage": {"prompt_tokens": 12, "completion_tokens": 4},
                "timings": {"prompt_ms": 1.0, "generation_ms": 20.0, "ttft_ms": 1.5, "total_ms": 21.0},
            }) + "\n")
print(f"{n * s} samples in {out}")
