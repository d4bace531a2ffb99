"""The course's main job: run every chapter notebook, write figures/, build the docs site, print a summary.

In full mode (the default) each notebook is executed in place, so its committed outputs are
those of this run. In fast mode (LLMCOURSE_FAST=1) the notebooks run shrunk and their outputs
are thrown away, so the committed full-run outputs stay as they are.

A full run can be done in parts, chapter by chapter: `--within 90` starts no chapter that would not finish
within 90 minutes of the part's start (by the minutes this kind of CPU took for it before, in run_times.json)
and stops there; `--resume` goes on with the next chapter, in the same folder, from the same commit, on the
same kind of CPU. Every chapter runs whole within one part, and the summary counts the parts.
"""
import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from nbtools import ROOT, drop_progress_bars, notebooks  # noqa: E402

sys.path.insert(0, str(ROOT))
from llmcourse.config import atomic_write_text, cpu_facts, cpu_label, fast_mode, results_path  # noqa: E402


def run_notebook(path: Path, write_back: bool) -> float:
    nb = nbformat.read(path, as_version=4)
    t0 = time.perf_counter()
    NotebookClient(nb, timeout=None, kernel_name='python3', resources={'metadata': {'path': str(path.parent)}}).execute()
    if write_back:
        drop_progress_bars(nb)
        nbformat.write(nb, path)
    return time.perf_counter() - t0


def cpu_description() -> str:
    "The processor this run measures, and which precision the course's 'auto' picks on it."
    import torch
    cpu = cpu_facts()
    return (f"{cpu['name']}, {cpu['logical']} logical CPUs, {torch.get_num_threads()} torch threads; native bf16: "
            f"{'yes (' + cpu['bf16'] + ')' if cpu['native'] else 'no'}, so the chapters train in "
            f"{'bf16' if cpu['native'] else 'float32'}")


def record_run_times(times: dict, path: Path = ROOT/'run_times.json'):
    "Write this full run's minutes per chapter under this CPU's name in run_times.json (other CPUs' rows are kept)."
    table = json.loads(path.read_text()) if path.exists() else {}
    row = table.setdefault(cpu_label(), {})
    row.update({name.removesuffix('.ipynb'): round(s / 60, 2) for name, s in times.items()})
    row['total'] = round(sum(times.values()) / 60, 1)
    path.write_text(json.dumps(table, indent=2) + '\n')


PROGRESS = ROOT/'checkpoints'/'course_run.json'   # a full run's chapters done so far, for --resume


def git_commit() -> str:
    "The commit this folder is at ('unknown' outside a git clone)."
    r = subprocess.run(['git', 'rev-parse', 'HEAD'], cwd=ROOT, capture_output=True, text=True)
    return r.stdout.strip() if r.returncode == 0 else 'unknown'


def save_progress(run: dict, path: Path = None):
    path = path or PROGRESS
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(run, indent=2) + '\n')   # a part killed mid-write leaves the last good file


def resumed_progress(commit: str, cpu: str, path: Path = None) -> dict:
    "The run to go on with, one part more; refused unless it was made from this commit on this kind of CPU."
    path = path or PROGRESS
    if not path.exists(): raise SystemExit(f'nothing to resume: {path} does not exist; start a run without --resume')
    run = json.loads(path.read_text())
    for key, here in (('commit', commit), ('cpu', cpu)):
        if run[key] != here:
            raise SystemExit(f'cannot resume the run in {path}: it ran with {key} {run[key]!r} and this one has {here!r}, '
                             'so its chapters would not be one run; start afresh without --resume')
    return run | {'parts': run['parts'] + 1}


def expected_minutes(name: str, cpu: str, path: Path = ROOT/'run_times.json'):
    "The minutes this kind of CPU took for a notebook in a full run (another CPU's most where it has none; None if unknown)."
    table = json.loads(path.read_text()) if path.exists() else {}
    stem = name.removesuffix('.ipynb')
    mine = table.get(cpu, {}).get(stem)
    others = [row[stem] for row in table.values() if stem in row]
    return mine if mine is not None else max(others, default=None)


def fits(expected, minutes_left: float, margin: float = 1.15) -> bool:
    "Whether a chapter expected to take `expected` minutes (None: unknown, so it runs) starts within the part's time."
    return expected is None or expected * margin <= minutes_left


def sh(*cmd):
    subprocess.run(cmd, check=True, cwd=ROOT)


def remove_fast_mode_scratch():
    "Fast mode writes its checkpoints, figures, logs and results to `<temp>/llmcourse-*`: remove them, leaving no trace."
    for p in Path(tempfile.gettempdir()).glob('llmcourse-*'):
        shutil.rmtree(p) if p.is_dir() else p.unlink()


def arguments(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--within', type=float, metavar='MINUTES',
                    help='full mode: start no chapter that would not finish within this many minutes; --resume goes on')
    ap.add_argument('--resume', action='store_true', help='full mode: go on with the run a --within part stopped')
    args = ap.parse_args(argv)
    if fast_mode() and (args.within is not None or args.resume):
        ap.error('--within and --resume are for full mode: a fast run keeps no outputs to go on from')
    return args


def main(argv=None):
    args, t_part = arguments(argv), time.perf_counter()
    fast = fast_mode()
    if fast: remove_fast_mode_scratch()    # a clean start: another fast run's leftovers are not this run's
    print('FAST MODE: shrunk experiments, outputs not written back.' if fast else 'Full mode: outputs written back to nbs/.')
    cpu = cpu_description()
    print('CPU:', cpu, flush=True)
    sh(sys.executable, 'scripts/export.py')
    if args.resume:
        run = resumed_progress(git_commit(), cpu_label())
        print(f"part {run['parts']} of the run from commit {run['commit'][:10]}: {len(run['seconds'])} notebooks done", flush=True)
    else:
        run = {'commit': git_commit(), 'cpu': cpu_label(), 'parts': 1, 'seconds': {}}
        if results_path().exists(): results_path().unlink()   # every number below comes from this run
    times = run['seconds']
    for nb in notebooks():
        if nb.name in times: continue
        left = None if args.within is None else args.within - (time.perf_counter() - t_part) / 60
        expected = None if left is None else expected_minutes(nb.name, run['cpu'])
        if left is not None and not fits(expected, left):
            save_progress(run)
            print(f'\nPart {run["parts"]} stops before {nb.name}: it took {expected:.0f} minutes on this kind of CPU and '
                  f'{left:.0f} are left of this part. Go on with: python scripts/run_course.py --resume', flush=True)
            sys.exit(3)
        print(f'running {nb.name} ...', flush=True)
        times[nb.name] = run_notebook(nb, write_back=not fast)
        print(f'  done in {times[nb.name]:.0f}s', flush=True)
        if not fast: save_progress(run)
    if not fast:
        record_run_times(times)
        sh('nbdev_clean')
        sh(sys.executable, 'scripts/make_readme.py')
    sh(sys.executable, 'scripts/build_docs.py')

    print('\n== Summary ==')
    for name, s in times.items(): print(f'{name:28s} {s:7.0f}s')
    total = sum(times.values())
    print(f'{"total":28s} {total:7.0f}s ({total / 60:.1f} minutes)')
    if run['parts'] > 1: print(f"run in {run['parts']} parts (--resume), each chapter whole within one part")
    print('CPU:', cpu)
    print('commit:', run['commit'])
    if results_path().exists():
        print('\nHeadline numbers (from this run' + (', FAST MODE: shrunk experiments, not meaningful' if fast else '') + '):')
        for chapter, kv in json.loads(results_path().read_text()).items():
            for k, v in kv.items(): print(f'  {chapter:12s} {k}: {v}')
    print(f'\nFigures: {ROOT/"figures"}' + (' (unchanged: fast mode writes to a scratch folder, removed now)' if fast else ''))
    print(f'Docs site: {ROOT/"_docs"/"index.html"}')


if __name__ == '__main__':
    try: main()
    finally:
        if fast_mode(): remove_fast_mode_scratch()    # also when a chapter fails
