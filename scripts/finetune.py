"""Fine-tune MiniLM on the drug reviews from the command line; runs as is under torchrun or `accelerate launch`.

  python scripts/finetune.py --labels binary
  torchrun --nproc_per_node 2 scripts/finetune.py --labels binary --epochs 1
  accelerate launch --multi_gpu --num_processes 4 scripts/finetune.py --labels binary
"""
import argparse
import os

from llmcourse.batching import make_loader
from llmcourse.evaluation import evaluate
from llmcourse.finetune import train
from llmcourse.recipe import RECIPE, RECIPE_EPOCHS, RECIPE_POOLING, recipe_config, recipe_data
from llmcourse.models import POOLINGS, load_classifier, load_tokenizer, tiny_bert
from llmcourse.speed import default_accelerator


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--labels', choices=['binary', 'three'], default='binary')
    ap.add_argument('--epochs', type=int, default=None,
                    help=f"passes over the training data (default: chapter 02's recipe, {RECIPE_EPOCHS})")
    ap.add_argument('--lr', type=float, default=RECIPE.lr)
    ap.add_argument('--batch-size', type=int, default=RECIPE.batch_size)
    ap.add_argument('--max-length', type=int, default=RECIPE.max_length)
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--pooling', choices=POOLINGS, default=RECIPE_POOLING,
                    help="classifier head: on mean-pooled states (chapter 02's recipe) or on BERT's [CLS] pooler")
    ap.add_argument('--keep', choices=['best', 'last'], default=RECIPE.keep,
                    help="weights to keep: the last epoch's (chapter 02's recipe) or the epoch with the best validation macro-F1")
    ap.add_argument('--output-dir', default=None, help='checkpoints (best/ and last/); resumes from last/ if present')
    ap.add_argument('--limit', type=int, default=None, help='use a stratified sample of this many training reviews')
    ap.add_argument('--tiny', action='store_true', help='a tiny random BERT instead of MiniLM (for tests)')
    args = ap.parse_args()

    acc = default_accelerator()
    tok = load_tokenizer()
    tr, va, te = recipe_data(args.labels)
    if args.limit: tr, va, te = tr.sample(args.limit), va.sample(args.limit // 2), te.sample(args.limit // 2)
    model = (tiny_bert(tr.label_names, seed=args.seed, pooling=args.pooling) if args.tiny
             else load_classifier(label_names=tr.label_names, seed=args.seed, pooling=args.pooling))
    cfg = recipe_config(args.labels, **({'epochs': args.epochs} if args.epochs else {}), keep=args.keep, lr=args.lr,
                        batch_size=args.batch_size, max_length=args.max_length, seed=args.seed,
                        output_dir=args.output_dir, progress=acc.is_main_process)
    res = train(model, tok, tr, va, cfg, accelerator=acc)
    test = evaluate(model, acc.prepare(make_loader(te, tok, cfg.eval_batch_size, args.max_length, shuffle=False)), acc)
    checksum = float(sum(p.double().sum() for p in model.parameters()))
    print(f'rank {acc.process_index}/{acc.num_processes}: steps {res.steps}, parameter checksum {checksum:.10e}', flush=True)
    acc.print(f"test accuracy {test['accuracy']:.4f}, macro-F1 {test['macro_f1']:.4f}")


if __name__ == '__main__':
    os.environ.setdefault('HF_HUB_OFFLINE', '1')
    main()
