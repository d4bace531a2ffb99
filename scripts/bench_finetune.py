"""Benchmark: our training helper against Hugging Face Trainer (defaults, length-grouped, and length-grouped in bf16)
and the repaired naive loop, on the bundled MiniLM and the binary drug reviews, side by side in one run: examples per
second over the same pass, our training FLOP/s against this machine's float32 and bf16 matmul rates, validation
accuracy after that pass, then (unless --budget 0) validation and test accuracy after an equal time budget per seed.
bf16 rows are added where the CPU runs bf16 natively (or with --bf16)."""
import argparse

import pandas as pd

from llmcourse.benchmark import benchmark_training
from llmcourse.config import native_bf16
from llmcourse.recipe import RECIPE, recipe_data

if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument('--budget', type=float, default=90, help='seconds of training per method at equal time (0: skip)')
    ap.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2, 3, 4])
    ap.add_argument('--max-length', type=int, default=RECIPE.max_length)
    ap.add_argument('--rounds', type=int, default=2,
                    help='time every method this many times, alternating forward and reverse order, and average')
    ap.add_argument('--bf16', action=argparse.BooleanOptionalAction, default=native_bf16(),
                    help='add bf16 rows (default: where the CPU has native bf16)')
    args = ap.parse_args()
    speed, equal_time, matmul = benchmark_training(*recipe_data('binary'), max_length=args.max_length,
                                                   budget_seconds=args.budget or None, seeds=args.seeds, bf16=args.bf16,
                                                   rounds=args.rounds)
    pd.set_option('display.width', 160)
    rates = speed.attrs['matmul GFLOP/s']
    print(f'\nthroughput: mean of {args.rounds} round(s), alternating the order of the methods')
    measured = pd.DataFrame(speed.attrs['matmul GFLOP/s measured'])      # one before each timed run, one after the last
    print(f'matmul rate (2048 x 2048), measured {len(measured)} times, before each timed run and after the last; the '
          'shares below are of the best: ' + ', '.join(f'{k} lowest {measured[k].min():.0f}, median {measured[k].median():.0f}, '
                                                      f'best {v:.0f} GFLOP/s' for k, v in rates.items()) + '\n')
    print(speed.round(3).to_string(), '\n')
    if args.bf16:
        eps = speed['examples/s']
        print(f"ours bf16 / Trainer grouped bf16: {eps['ours, bf16'] / eps['Trainer, grouped, bf16']:.2f}x examples/s")
        print(f"ours bf16 / ours float32:         {eps['ours, bf16'] / eps['ours']:.2f}x examples/s\n")
    if args.budget:
        std = lambda a: a.std(ddof=0)   # the spread over the seeds run, as the notebook reports it
        print(f'equal time: {args.budget:.0f} s each; mean and spread over seeds {args.seeds}')
        print(equal_time.groupby('method', sort=False)[['examples trained', 'valid accuracy', 'valid macro-F1',
                                                        'test accuracy']]
              .agg(['mean', std]).rename(columns={'<lambda_0>': 'std'}).round(3).to_string())
