#!/usr/bin/env python3
"""paired-scores.py RUN_A RUN_B: per-eval mean scores of two runs of one configuration (run dirs, or output dirs: their runs/latest), the paired difference (B - A) with a bootstrap 95% CI over evals, and generated tokens."""
import json, sys, glob, os, random
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from litmus_runs import records

def load(d):
    p, recs = records(d)
    ev, toks, errors = {}, 0, 0
    for r in recs.values():
        s = r.get('score')
        v = s.get('value') if isinstance(s, dict) else s
        if v is None:
            errors += 1  # an errored sample has no score: left out, and counted
            continue
        ev.setdefault(r['eval'], []).append(float(v))
        toks += (r.get('usage') or {}).get('completion_tokens', 0)
    if errors:
        print(f"{p}: {errors} errored samples left out", file=sys.stderr)
    return {k: sum(v)/len(v) for k, v in ev.items()}, toks, p
a, ta, pa = load(sys.argv[1]); b, tb, pb = load(sys.argv[2])
keys = sorted(set(a) & set(b))
d = [b[k] - a[k] for k in keys]
m = sum(d)/len(d)
rng = random.Random(7); bs = []
for _ in range(10000):
    s = [d[rng.randrange(len(d))] for _ in d]; bs.append(sum(s)/len(s))
bs.sort()
print(f"A {pa}\nB {pb}")
print(f"evals {len(keys)}; mean A {sum(a[k] for k in keys)/len(keys):.2f}, mean B {sum(b[k] for k in keys)/len(keys):.2f}; "
      f"B-A {m:+.2f} [{bs[250]:+.2f}, {bs[9750]:+.2f}]; B higher in {sum(x>1e-9 for x in d)}, lower in {sum(x<-1e-9 for x in d)}, equal in {sum(abs(x)<=1e-9 for x in d)}")
print(f"generated tokens A {ta}, B {tb} (B/A {tb/max(ta,1):.2f})")
for k in keys:
    if abs(b[k]-a[k]) > 1e-9: print(f"  {k}: {a[k]:.1f} -> {b[k]:.1f}")
