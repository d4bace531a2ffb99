"""The course's main job: run every chapter notebook, write figures/, build the docs site, print a summary.

In full mode (the default) each notebook is executed in place, so its committed outputs are
those of this run. In fast mode (LLMCOURSE_FAST=1) the notebooks run shrunk and their outputs
are thrown away, so the committed full-run outputs stay as they are.
"""
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
from llmcourse.config import cpu_facts, cpu_label, fast_mode, results_path  # noqa: E402


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


def sh(*cmd):
    subprocess.run(cmd, check=True, cwd=ROOT)


def remove_fast_mode_scratch():
    "Fast mode writes its checkpoints, figures, logs and results to `<temp>/llmcourse-*`: remove them, leaving no trace."
    for p in Path(tempfile.gettempdir()).glob('llmcourse-*'):
        shutil.rmtree(p) if p.is_dir() else p.unlink()


def main():
    fast = fast_mode()
    if fast: remove_fast_mode_scratch()    # a clean start: another fast run's leftovers are not this run's
    print('FAST MODE: shrunk experiments, outputs not written back.' if fast else 'Full mode: outputs written back to nbs/.')
    cpu = cpu_description()
    print('CPU:', cpu, flush=True)
    sh(sys.executable, 'scripts/export.py')
    if results_path().exists(): results_path().unlink()   # every number below comes from this run
    times = {}
    for nb in notebooks():
        print(f'running {nb.name} ...', flush=True)
        times[nb.name] = run_notebook(nb, write_back=not fast)
        print(f'  done in {times[nb.name]:.0f}s', flush=True)
    if not fast:
        record_run_times(times)
        sh('nbdev_clean')
        sh(sys.executable, 'scripts/make_readme.py')
    sh(sys.executable, 'scripts/build_docs.py')

    print('\n== Summary ==')
    for name, s in times.items(): print(f'{name:28s} {s:7.0f}s')
    total = sum(times.values())
    print(f'{"total":28s} {total:7.0f}s ({total / 60:.1f} minutes)')
    print('CPU:', cpu)
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
