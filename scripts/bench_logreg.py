"""Benchmark: our Newton solver against scikit-learn's default (lbfgs) on the breast-cancer data, side by side in one run."""
import argparse

from llmcourse.logreg import benchmark_newton_vs_sklearn, print_benchmark

if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument('--repeats', type=int, default=50)
    ap.add_argument('--alpha', type=float, default=0.01)
    args = ap.parse_args()
    print_benchmark(benchmark_newton_vs_sklearn(alpha=args.alpha, repeats=args.repeats))
