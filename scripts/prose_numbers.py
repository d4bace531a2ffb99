"""Numbers in the notebooks' prose that no output of the same notebook (nor results.json) shows.

A number in a markdown cell counts when it has a decimal point or a % sign (not a version: "torch 2.13"), and so does
each "N of M". It is found
when an output of the same notebook, or a value in results.json, shows it at the precision the prose gives (0.811
matches 0.8114; 14% matches 0.1405 or 14.0), or when its sentence cites a source (an author and a year).

    python scripts/prose_numbers.py            # the report, notebook by notebook
    python scripts/prose_numbers.py --count    # one line: how many are found, of how many
    python scripts/prose_numbers.py --write-known   # record today's unmatched numbers in tests/prose_numbers_known.tsv

tests/test_prose_numbers.py holds the notebooks to that record: a number the record does not list fails the test,
so the prose cannot drift further, and each one fixed must leave the record (a shorter list each time).
"""
import html
import re
import sys

import nbformat

from nbtools import ROOT, notebooks

INT = r'(?:\d{1,3}(?:,\d{3})+|\d+)'      # 1,234 or 1234
NUMBER = re.compile(rf'(?<![\w.])[-+−]?{INT}\.\d+(?:e[-+−]?\d+)?%?|(?<![\w.])[-+−]?{INT}%')
N_OF_M = re.compile(rf'\b({INT}) of (?:the )?({INT})\b')
VERSION = re.compile(r'\b(?:Python|torch|transformers|peft|accelerate|datasets|nbdev|version|v)\s*$', flags=re.I)
CITATION = re.compile(r"[A-Z][\w'-]+(?:\s+et\s+al\.|\s+and\s+[A-Z][\w'-]+)?,?\s+\(?(?:19|20)\d\d\)?")
ANY_NUMBER = re.compile(rf'[-+−]?{INT}(?:\.\d+)?(?:e[-+−]?\d+)?')


def _value(text: str) -> float:
    return float(text.replace(',', '').replace('−', '-').rstrip('%'))


def _tolerance(text: str) -> float:
    "Half a unit in the last digit the text shows (1.2e-05: 0.05e-05)."
    mantissa, _, exponent = text.rstrip('%').replace('−', '-').partition('e')
    decimals = len(mantissa.split('.')[1]) if '.' in mantissa else 0
    return 0.5 * 10 ** (int(exponent or 0) - decimals) * (1 + 1e-9)


def output_text(nb) -> str:
    "Everything the notebook's code cells show: streams, plain text and HTML tables (tags removed)."
    parts = []
    for c in nb.cells:
        for o in c.get('outputs', []):
            parts.append(o.get('text', '') if isinstance(o.get('text', ''), str) else ''.join(o['text']))
            data = o.get('data', {})
            for kind in ('text/plain', 'text/markdown', 'text/html'):
                t = data.get(kind, '')
                parts.append(html.unescape(re.sub(r'<[^>]+>', ' ', t if isinstance(t, str) else ''.join(t))))
    return '\n'.join(parts)


def results_values() -> list:
    "Every number in results.json."
    path = ROOT/'results.json'
    return [float(x) for x in ANY_NUMBER.findall(path.read_text())] if path.exists() else []


def shown(number: str, values: list) -> bool:
    "Whether a value in `values` shows `number` at the precision the prose gives it (as a share or a percentage)."
    x, tolerance = _value(number), _tolerance(number)
    scales = (1, 100) if number.endswith('%') else (1,)
    return any(abs(v * s - x) <= tolerance or abs(abs(v * s) - abs(x)) <= tolerance for v in values for s in scales)


def sentences(md: str) -> list:
    return re.split(r'(?<=[.;:!?])\s+(?=[A-Z(*`])|\n\s*[-*] |\n\n', md)


def unmatched(nb_path, results: list = None) -> tuple:
    """The prose numbers of one notebook that nothing it shows contains, nor `results` (None: results.json's numbers):
    ([(number, sentence)], how many were checked)."""
    nb = nbformat.read(nb_path, as_version=4)
    values = [float(v.replace(',', '').replace('−', '-')) for v in ANY_NUMBER.findall(output_text(nb))]
    values += results_values() if results is None else results
    missing, checked = [], 0
    for c in nb.cells:
        if c.cell_type != 'markdown': continue
        for s in sentences(re.sub(r'`[^`]*`|\$[^$]*\$|\]\([^)]*\)', ' ', c.source)):
            if CITATION.search(s): continue
            found = [m.group() for m in NUMBER.finditer(s) if not VERSION.search(s[:m.start()])]   # a version is no measurement
            found += [n for pair in N_OF_M.findall(s) for n in pair]
            for n in found:
                checked += 1
                if not shown(n, values): missing.append((n, ' '.join(s.split())[:160]))
    return missing, checked


KNOWN = ROOT/'tests'/'prose_numbers_known.tsv'


def all_unmatched() -> list:
    "Every notebook's unmatched numbers as (notebook, number, sentence) rows."
    return [(p.stem, n, s) for p in notebooks() for n, s in unmatched(p)[0]]


def known() -> list:
    "The recorded rows of tests/prose_numbers_known.tsv."
    return [tuple(l.split('\t')) for l in KNOWN.read_text().splitlines() if l and not l.startswith('#')] if KNOWN.exists() else []


if __name__ == '__main__':
    if '--write-known' in sys.argv:
        rows = all_unmatched()
        KNOWN.write_text('# notebook\tnumber\tsentence: prose numbers no output shows yet (scripts/prose_numbers.py)\n'
                         + ''.join('\t'.join(r) + '\n' for r in rows))
        print(f'{len(rows)} rows in {KNOWN.relative_to(ROOT)}'); sys.exit()
    total = bad = 0
    for p in notebooks():
        missing, checked = unmatched(p)
        total, bad = total + checked, bad + len(missing)
        if '--count' in sys.argv: continue
        for n, s in missing: print(f'{p.stem}: {n!r} in "{s}"')
    print(f'{total - bad} of {total} prose numbers are shown by their notebook or results.json; {bad} are not')
