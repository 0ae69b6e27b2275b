"""Reading litmus runs for the scripts here: a run's records, the last one per sample."""
import json, os

def samples_file(d):
    """d is a run dir, or an output dir whose runs/latest names the run."""
    p = os.path.join(d, 'samples.jsonl')
    if os.path.exists(p):
        return p
    latest = open(os.path.join(d, 'runs', 'latest')).read().strip()
    return os.path.join(d, 'runs', latest, 'samples.jsonl')

def records(d):
    """The run's records, the last one per sample (a resumed sample supersedes its earlier record)."""
    p = samples_file(d)
    out = {}
    for line in open(p):
        r = json.loads(line)
        k = (r['eval'], r['model'], r.get('quantization'), r['template'], r['temperature'],
             r['sample'], r.get('repeat', 0))
        out[k] = r
    return p, out
