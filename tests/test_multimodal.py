"""The small CLIP (images, captions, loss, zero-shot, retrieval), its two-digit scenes (held-out pairs, word order, hard
negatives, a text side that reads word pieces) and the review-metadata fusion, rating never a feature."""
import math

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F

from llmcourse.data import load_drug_reviews
from llmcourse.fusion import GatedFusion
from llmcourse.metadata import MetadataEncoder
from llmcourse.multimodal import (CLIP, DIGIT_WORDS, TRAIN_TEMPLATES, CaptionBank, TokenReader, as_digit_images,
                                  caption_features, class_embeddings, clip_explorer, info_nce, load_digit_images, recall_at_k,
                                  train_classifier, train_clip, zero_shot_predict)
from llmcourse.scenes import (PAIRS, SCENE_TEMPLATES, SCENE_WORDS, caption_digits, check_heldout, choose_heldout, make_scenes,
                              pair_class, rank_scenes, scene_explorer, scene_scores, swapped)


def test_digit_splits_are_disjoint_stratified_and_scaled():
    splits = {s: load_digit_images(s) for s in ('train', 'valid', 'test')}
    assert sum(len(y) for _, y in splits.values()) == 1797
    assert all(x.shape[1:] == (1, 8, 8) and 0 <= x.min() and x.max() <= 1 for x, _ in splits.values())
    for x, y in splits.values(): assert np.bincount(y.numpy(), minlength=10).min() >= 30
    flat = {s: {tuple(r) for r in x.flatten(1).numpy().round(4)} for s, (x, _) in splits.items()}
    assert len(flat['test'] & flat['train']) < 5      # scikit-learn's digits hold a few exact repeats, no more


def test_images_of_the_wrong_shape_or_range_are_refused():
    assert as_digit_images(np.zeros((8, 8))).shape == (1, 1, 8, 8) and as_digit_images(np.zeros((3, 8, 8))).shape == (3, 1, 8, 8)
    with pytest.raises(ValueError, match='8 x 8 pixels'): as_digit_images(np.zeros((2, 28, 28)))
    with pytest.raises(ValueError, match='8 x 8 pixels'): as_digit_images(np.zeros((2, 3, 8, 8)))
    with pytest.raises(ValueError, match=r'\[0, 1\]'): as_digit_images(np.full((1, 8, 8), 16.0))
    assert as_digit_images(np.zeros((2, 8, 16))).shape == (2, 1, 8, 16)          # a scene of two digits
    with pytest.raises(ValueError, match='8 x 16 pixels'): as_digit_images(np.zeros((2, 8, 12)))
    with pytest.raises(ValueError, match='8 x 8 pixels'): as_digit_images(np.zeros((2, 8, 16)), columns=8)


def test_info_nce_is_symmetric_refuses_bad_temperatures_and_is_low_for_matched_pairs():
    g = torch.Generator().manual_seed(0)
    x, t = (F.normalize(torch.randn(8, 16, generator=g), dim=-1) for _ in range(2))
    assert math.isclose(float(info_nce(x, t, 0.1)), float(info_nce(t, x, 0.1)), rel_tol=1e-6)
    assert float(info_nce(x, x, 0.05)) < 0.01 < float(info_nce(x, t, 0.05))
    assert math.isclose(float(info_nce(x, t, 1e6)), math.log(8), rel_tol=1e-4)    # no preference: guessing among 8
    for bad in (0, -0.5): 
        with pytest.raises(ValueError, match='temperature must be > 0'): info_nce(x, t, bad)
    with pytest.raises(ValueError, match='temperature must be > 0'): CLIP(temperature=0)


def test_recall_at_k_counts_any_item_of_the_query_label():
    sim = torch.tensor([[0.9, 0.1, 0.5], [0.2, 0.8, 0.7]])
    q, items = torch.tensor([1, 0]), torch.tensor([0, 1, 1])
    assert recall_at_k(sim, q, items, 1) == 0.0 and recall_at_k(sim, q, items, 2) == 0.5 and recall_at_k(sim, q, items, 3) == 1.0
    with pytest.raises(ValueError, match='k must lie in 1..3'): recall_at_k(sim, q, items, 4)


def test_empty_captions_are_refused():
    with pytest.raises(ValueError, match='caption 1 is empty'): caption_features(['a seven', '  '])
    with pytest.raises(ValueError, match='empty'): caption_features('')


def test_a_briefly_trained_clip_beats_chance_zero_shot():
    x, y = load_digit_images('train')
    bank = CaptionBank(TRAIN_TEMPLATES[:2])
    model, losses = train_clip(x, y, bank, epochs=3, batch_size=32, seed=0)
    assert losses[-1] < losses[0]
    tx, ty = load_digit_images('valid')
    accuracy = float((zero_shot_predict(model, tx, class_embeddings(model, bank)) == ty).float().mean())
    assert accuracy > 0.5, accuracy                       # chance is 0.1
    assert class_embeddings(model, bank).norm(dim=-1).allclose(torch.ones(10))
    with pytest.raises(ValueError, match='at least 2 pairs'): train_clip(x, y, bank, batch_size=1)
    with pytest.raises(ValueError, match='at least as many images'): train_clip(x[:10], y[:10], bank, batch_size=64)


def test_the_clip_explorer_reacts_and_shows_errors():
    x, y = load_digit_images('test')
    model = CLIP().eval()
    ui = clip_explorer(model, CaptionBank(TRAIN_TEMPLATES[:1]), x, y, shown=5)
    before = ui.image_pane.value
    ui.pick.value = 1
    assert ui.image_pane.value != before and 'clip-image' in ui.image_pane.value
    ui.box.value = '  '
    assert 'empty' in ui.caption_pane.value and 'clip-results' not in ui.caption_pane.value
    ui.box.value = 'a handwritten seven.'
    assert 'clip-results' in ui.caption_pane.value and any(w in ui.caption_pane.value for w in DIGIT_WORDS)


def test_rating_never_becomes_a_metadata_feature():
    train = load_drug_reviews('train')
    assert 'rating' not in train.meta.columns, 'the dataset metadata must not carry the label source'
    frame = train.meta.assign(rating=train.labels)                # even when a frame carries it, it is not read
    enc = MetadataEncoder().fit(frame)
    assert not any('rating' in n for n in enc.names())
    flipped = frame.assign(rating=1 - frame.rating)
    assert np.array_equal(enc.transform(frame), enc.transform(flipped))
    with pytest.raises(ValueError, match='source of the label'): MetadataEncoder(['drug', 'rating'])


def test_metadata_encoding_uses_training_statistics_and_names_unknown_columns():
    train, test = load_drug_reviews('train'), load_drug_reviews('test')
    enc = MetadataEncoder(min_count=2).fit(train.meta)
    X = enc.transform(test.meta)
    assert X.shape == (len(test), len(enc.names()))
    drug = [i for i, n in enumerate(enc.names()) if n.startswith('drug=')]
    assert np.allclose(X[:, drug].sum(1), 1)                      # every review has exactly one drug column, 'other' included
    assert abs(enc.transform(train.meta)[:, enc.names().index('usefulCount')].mean()) < 1e-6
    with pytest.raises(ValueError, match="unknown metadata column 'price'"): MetadataEncoder(['price'])
    with pytest.raises(ValueError, match="no column 'drug'"): enc.transform(test.meta.drop(columns='drug'))


def test_the_gated_unit_learns_from_the_modality_that_knows_and_its_gate_lies_in_0_1():
    g = torch.Generator().manual_seed(0)
    text, meta = torch.randn(200, 6, generator=g), torch.randn(200, 3, generator=g)
    y = (meta[:, 0] > 0).long()                                   # only the metadata knows the label
    widths = {'text': 6, 'meta': 3}
    fit = lambda inputs, seed=0: train_classifier(lambda: GatedFusion(widths, hidden=8), inputs, y, 30, lr=3e-3, seed=seed)
    gated = fit((text, meta))
    assert float((gated(text, meta).argmax(1) == y).float().mean()) > 0.9
    text_only = fit((text, torch.zeros_like(meta)))
    assert float((text_only(text, torch.zeros_like(meta)).argmax(1) == y).float().mean()) < 0.7   # without the metadata: guessing
    with torch.no_grad(): _, z = gated(text, meta, return_gate=True)
    assert z.shape == (200, 8) and 0 < float(z.min()) and float(z.max()) < 1


def test_train_classifier_seeds_before_it_builds_so_a_random_seed_fixes_the_whole_model():
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(64, 5, generator=g), torch.randint(0, 2, (64,), generator=g)
    fit = lambda seed: train_classifier(lambda: torch.nn.Linear(5, 2), (x,), y, 2, lr=1e-2, seed=seed)
    torch.manual_seed(123)                                         # whatever the global state before the call
    a = fit(0).weight
    torch.rand(10)
    assert torch.equal(a, fit(0).weight) and not torch.equal(a, fit(1).weight)


def test_a_scene_puts_an_image_of_the_left_digit_beside_one_of_the_right_and_refuses_digits_that_do_not_exist():
    x, y = load_digit_images('valid')
    scenes, classes = make_scenes(x, y, [(3, 7), (7, 3)], 4, seed=0)
    assert scenes.shape == (8, 1, 8, 16) and classes.tolist() == [37] * 4 + [73] * 4
    digits = {tuple(img.flatten().tolist()): int(d) for img, d in zip(x, y)}
    for s, c in zip(scenes, classes.tolist()):
        assert (digits[tuple(s[0, :, :8].flatten().tolist())], digits[tuple(s[0, :, 8:].flatten().tolist())]) == divmod(c, 10)
    with pytest.raises(ValueError, match='12 is not a digit'): make_scenes(x, y, [(3, 12)], 1)
    with pytest.raises(ValueError, match='same digit twice'): make_scenes(x, y, [(4, 4)], 1)
    with pytest.raises(ValueError, match='no image of the digit 9'): make_scenes(x[y != 9], y[y != 9], [(3, 9)], 1)


def test_held_out_pairs_must_leave_every_digit_on_both_sides_of_some_training_pair():
    with pytest.raises(ValueError, match='cover all 90'): check_heldout(PAIRS)
    with pytest.raises(ValueError, match='digit 0 is never on the left'): check_heldout([(0, b) for b in range(1, 10)])
    with pytest.raises(ValueError, match='not an ordered pair'): check_heldout([(5, 5)])
    chosen = choose_heldout(20, seed=1)
    assert len(chosen) == 20 and check_heldout(chosen) == chosen and chosen != choose_heldout(20, seed=2)


def test_a_pair_class_reads_left_then_right_and_swapping_twice_changes_nothing():
    c = pair_class(torch.tensor([3, 7]), torch.tensor([7, 0]))
    assert c.tolist() == [37, 70] and swapped(c).tolist() == [73, 7] and swapped(swapped(c)).tolist() == c.tolist()
    bank = CaptionBank(SCENE_TEMPLATES[:1], SCENE_WORDS)
    assert bank.texts[37][0] == 'a three to the left of a seven.' and bank.features.shape[:2] == (100, 1)


def test_captions_that_name_no_digit_are_refused():
    assert caption_digits('A Seven to the left of a three.') == [7, 3]
    with pytest.raises(ValueError, match='names no digit'): caption_digits('a scene with some squiggles')
    with pytest.raises(ValueError, match='names no digit'): rank_scenes(CLIP(columns=16), 'some squiggles', torch.zeros(3, 1, 8, 16))
    with pytest.raises(ValueError, match='empty'): caption_digits('  ')


def test_hard_negatives_join_the_image_to_caption_side_only():
    g = torch.Generator().manual_seed(0)
    x, t, n = (F.normalize(torch.randn(6, 8, generator=g), dim=-1) for _ in range(3))
    rows = torch.cat([x @ t.T, x @ n.T], 1) / 0.1
    expected = (F.cross_entropy(rows, torch.arange(6)) + F.cross_entropy((x @ t.T / 0.1).T, torch.arange(6))) / 2
    assert torch.allclose(info_nce(x, t, 0.1, n), expected) and float(info_nce(x, t, 0.1, n)) > float(info_nce(x, t, 0.1))


def test_the_token_reader_ignores_padding_hears_order_and_refuses_pooled_features():
    torch.manual_seed(0)
    reader = TokenReader(text_width=16, dim=8, hidden=16, heads=2).eval()
    states = torch.randn(2, 5, 16)
    padded = torch.cat([states, torch.zeros(2, 3, 16)], 1)
    assert torch.allclose(reader(states), reader(padded), atol=1e-5)
    order = states[:, [0, 2, 1, 3, 4]]                                 # the same pieces, two of them swapped
    assert not torch.allclose(reader(states), reader(order), atol=1e-3)
    with pytest.raises(ValueError, match='token states'): CLIP(text_reader=True).embed_texts(torch.zeros(2, 384))
    x, y = load_digit_images('valid')
    with pytest.raises(ValueError, match='tokens=True'):
        train_clip(*make_scenes(x, y, PAIRS[:4], 2), CaptionBank(SCENE_TEMPLATES[:1], SCENE_WORDS), epochs=1,
                   batch_size=4, text_reader=True)


def test_a_briefly_trained_scene_clip_beats_chance_on_pairs_and_scores_each_scene():
    x, y = load_digit_images('train')
    scenes, classes = make_scenes(x, y, PAIRS, 10)
    bank = CaptionBank(SCENE_TEMPLATES, SCENE_WORDS)
    model, losses = train_clip(scenes, classes, bank, epochs=3, batch_size=64, seed=0)
    assert losses[-1] < losses[0]
    scores = scene_scores(model, bank, *make_scenes(*load_digit_images('valid'), PAIRS, 2))
    assert set(scores) == {'zero-shot', 'order'} and len(scores['order']) == 180
    assert scores['zero-shot'].mean() > 5 / 90, scores['zero-shot'].mean()          # chance is 1 / 90


def test_the_scene_explorer_follows_the_model_and_the_caption_and_names_bad_captions():
    x, y = load_digit_images('test')
    scenes, classes = make_scenes(x, y, PAIRS[:10], 2)
    torch.manual_seed(0)
    ui = scene_explorer({'a': CLIP(columns=16).eval(), 'b': CLIP(columns=16).eval()}, scenes, classes, k=4)
    before = ui.pane.value
    assert 'scene-results' in before and before.count('<table') == 4
    ui.which.value = 'b'
    assert ui.pane.value != before
    ui.box.value = 'some squiggles'
    assert 'names no digit' in ui.pane.value and 'scene-results' not in ui.pane.value
