"""Benchmark: our training helper against Hugging Face Trainer (defaults, and length-grouped) and the
repaired seed loop on the bundled MiniLM and the binary drug reviews, side by side in one run:
examples per second over one pass, our training FLOP/s against this machine's float32 matmul rate,
validation accuracy after that pass, then validation accuracy after an equal time budget per seed."""
import argparse

import pandas as pd

from llmcourse.data import load_drug_reviews
from llmcourse.benchmark import benchmark_training

if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument('--budget', type=float, default=90, help='seconds of training per method for the equal-time comparison')
    ap.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2, 3, 4])
    ap.add_argument('--max-length', type=int, default=256)
    args = ap.parse_args()
    speed, equal_time, matmul = benchmark_training(load_drug_reviews('train'), load_drug_reviews('valid'), load_drug_reviews('test'),
                                                   max_length=args.max_length, budget_seconds=args.budget, seeds=args.seeds)
    pd.set_option('display.width', 160)
    print(f'\nfloat32 matmul rate (2048 x 2048): {matmul:.0f} GFLOP/s\n')
    print(speed.round(3).to_string(), '\n')
    std = lambda a: a.std(ddof=0)   # the spread over the seeds run, as the notebook reports it
    print(f'equal time: {args.budget:.0f} s each; mean and spread over seeds {args.seeds}')
    print(equal_time.groupby('method', sort=False)[['examples trained', 'valid accuracy', 'valid macro-F1', 'test accuracy']]
          .agg(['mean', std]).rename(columns={'<lambda_0>': 'std'}).round(3).to_string())
