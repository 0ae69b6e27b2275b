#!/usr/bin/env python3
"""Compare responses of litmus runs by sample key. Usage: compare-answers.py RUN_DIR RUN_DIR [...]
A RUN_DIR is a run dir, or an output dir (its runs/latest). With --subset, the
keys of the first run only (e.g. one eval alone vs the full run)."""
import json, sys, glob, os
args = [a for a in sys.argv[1:] if not a.startswith('--')]
subset = '--subset' in sys.argv
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from litmus_runs import records

def load(d):
    p, recs = records(d)
    return p, {k: (r.get('response'), [e.get('response') for e in r.get('exchanges', [])], r.get('error'))
               for k, r in recs.items()}
runs = [load(a) for a in args]
base_p, base = runs[0]
print(f"base {base_p}: {len(base)} samples, {sum(1 for v in base.values() if v[2])} errors")
for p, r in runs[1:]:
    keys = set(base) if subset else set(base) | set(r)
    missing = [k for k in keys if k not in r or k not in base]
    diff = [k for k in keys if k in r and k in base and base[k][:2] != r[k][:2]]
    evals = sorted({k[0] for k in diff})
    same_evals = len({k[0] for k in keys}) - len(evals)
    print(f"{p}: {len(r)} samples; compared {len(keys)}; identical {len(keys)-len(diff)-len(missing)}; "
          f"differ {len(diff)}; missing {len(missing)}; evals identical {same_evals}/{len({k[0] for k in keys})}")
    for k in diff[:5]:
        print("  differs:", k)
