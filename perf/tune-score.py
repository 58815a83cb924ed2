# tune-score.py -- scores the tuner's picks (before: PROBE=0, the bare
# table; after: the model a communicator on the dev VM builds) against the
# forced-algorithm columns of the latest run of each table in
# docs/PERFORMANCE.md's tuner section.
#   python3 perf/tune-score.py ./tune-score [docs/PERFORMANCE.md]
import re, subprocess, sys
TOOL = sys.argv[1]
DOC = sys.argv[2] if len(sys.argv) > 2 else 'docs/PERFORMANCE.md'
doc = open(DOC).read()
start = doc.index('## Tuner: the pick against'); end = doc.index('## Full comparison')
sec = doc[start:end]
ids = {'all_reduce':0,'broadcast':1,'reduce':2,'all_gather':3,'reduce_scatter':4,'alltoall':5}
tables = {}  # first occurrence = latest run
for m in re.finditer(r'^## (\w+), (\d) ranks, (flat|2 domains)\n(.*?)(?=\n\n|\n```)', sec, re.S | re.M):
    key = (m.group(1), int(m.group(2)), 1 if m.group(3) == 'flat' else 2)
    if key in tables: continue
    lines = m.group(4).strip().split('\n')
    hdr = lines[0].split()
    rows = {}
    for l in lines[1:]:
        f = l.split()
        if not f or not f[0].isdigit(): continue
        vals = {}
        for i, h in enumerate(hdr[1:-3]):
            try: vals[h] = float(f[1 + i])
            except: pass
        rows[int(f[0])] = vals
    tables[key] = rows
def picks(P, D, coll, probe):
    out = subprocess.run([TOOL, str(P), str(D), str(ids[coll]), str(probe)], capture_output=True, text=True).stdout
    return {int(float(l.split()[0])): l.split()[1] for l in out.strip().split('\n')}
tot = {0: [0, 0, 0.0], 1: [0, 0, 0.0]}
for key in sorted(tables):
    coll, P, D = key
    rows = tables[key]
    pk = {pr: picks(P, D, coll, pr) for pr in (0, 1)}
    print('##', coll, P, 'flat' if D == 1 else '2 domains')
    for size in sorted(rows):
        if size < 64: continue
        v = rows[size]; forced = {a: t for a, t in v.items() if a != 'auto'}
        if not forced: continue
        fast = min(forced, key=forced.get)
        cells = []
        for pr in (0, 1):
            a = pk[pr].get(size)
            if a is None or a not in forced: cells.append('%s:-' % a); continue
            r = forced[a] / forced[fast]
            tot[pr][0] += 1; tot[pr][1] += r <= 1.15; tot[pr][2] += r
            cells.append('%s %.2f' % (a, r))
        print('%9d fastest %-8s before %-14s after %s' % (size, fast, cells[0], cells[1]))
for pr in (0, 1):
    n, w, s = tot[pr]
    print('%s: within 1.15 in %d of %d cells, mean %.2f' % ('before' if pr == 0 else 'after', w, n, s / max(n, 1)))
