"""The speed lesson's instruments (chapter 02b): taking turns so that a drifting machine favours no way of doing the
work, and fingerprints that tell bitwise-identical numbers from nearly identical ones."""
import pytest
import torch

from llmcourse.benchmark import fingerprint, peak_memory_mb, reset_peak_memory, take_turns
from llmcourse.models import tiny_bert


def test_take_turns_reverses_the_order_every_other_round_and_keeps_every_result():
    calls = []
    out = take_turns(['a', 'b', 'c'], lambda w: calls.append(w) or len(calls), rounds=4)
    assert calls == list('abccbaabccba')
    assert out == {'a': [1, 6, 7, 12], 'b': [2, 5, 8, 11], 'c': [3, 4, 9, 10]}
    assert len({sum(positions) for positions in out.values()}) == 1      # the same mean moment for every way


def test_take_turns_says_what_ran_when_asked(capsys):
    take_turns([1, 2], lambda w: None, rounds=2, desc='jobs')
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(': ')[1].split(' took')[0] for line in lines] == ['1', '2', '2', '1']
    assert lines[0].startswith('jobs, round 1 of 2: 1 took ') and lines[0].endswith(' s')
    take_turns([1, 2], lambda w: None)
    assert capsys.readouterr().out == ''


def test_take_turns_names_each_way_by_its_label(capsys):
    take_turns([False, True], lambda w: None, rounds=1, desc='malloc', label={False: 'as set', True: 'keeping'}.get)
    assert [line.split(' took')[0] for line in capsys.readouterr().out.splitlines()] == [
        'malloc, round 1 of 1: as set', 'malloc, round 1 of 1: keeping']


@pytest.mark.parametrize('rounds', [0, -1, 1.5, '2'])
def test_take_turns_refuses_a_round_count_that_is_not_a_whole_number(rounds):
    with pytest.raises(ValueError, match='rounds must be a whole number'): take_turns('ab', lambda w: w, rounds=rounds)


def test_fingerprints_tell_identical_numbers_from_nearly_identical_ones():
    a, b = tiny_bert(seed=0), tiny_bert(seed=0)
    assert fingerprint(a) == fingerprint(b) != fingerprint(tiny_bert(seed=1))
    with torch.no_grad():
        w = next(b.parameters()).view(-1)
        w[0] = torch.nextafter(w[0], torch.tensor(float('inf')))      # one number, one bit further
    assert fingerprint(a) != fingerprint(b)


def test_fingerprints_read_any_dtype_and_any_memory_layout():
    x = torch.randn(4, 3, generator=torch.Generator().manual_seed(0))
    assert fingerprint(x.bfloat16()) == fingerprint(x.bfloat16().clone()) != fingerprint(x)
    assert fingerprint(x.t()) == fingerprint(x.t().contiguous())       # the numbers in order, not their strides
    assert len(fingerprint(x)) == 16


@pytest.mark.skipif(peak_memory_mb() is None, reason='the peak is read from Linux /proc')
def test_peak_memory_rises_with_a_large_tensor_and_starts_again_on_reset():
    reset_peak_memory()
    before = peak_memory_mb()
    x = torch.ones(300 * 2**20 // 4)                       # 300 MB, every page touched
    assert peak_memory_mb() > before + 250
    del x
    reset_peak_memory()
    assert peak_memory_mb() < before + 100


@pytest.mark.skipif(peak_memory_mb() is None, reason='the peak is read from Linux /proc')
def test_a_fresh_process_reports_its_own_peak_not_its_parents():
    import subprocess, sys
    big = bytearray(3 * 2**30)
    for i in range(0, len(big), 4096): big[i] = 1          # this process now holds at least 3 GB
    code = 'from llmcourse.benchmark import peak_memory_mb; print(peak_memory_mb())'
    child = float(subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, check=True).stdout)
    assert child < 2048                                      # importing torch and the course takes well under 1 GB
