"""What each number in `results.json` answers, for the results page (scripts/build_docs.py).

For each chapter, its questions in the order the chapter asks them; each question names the section of the chapter that
measures its numbers (a heading of the notebook, so the page can link to it) and gives every key a sentence-length label.
A key pattern ending in `[*]` matches every key with that stem and a bracket (`test_accuracy[LoRA, 463 labels]`); `{}` in
its label is filled with what the brackets hold. A key's interval (`<key>_ci95`) is shown beside it, not labelled alone.
A section given as (notebook, heading) lies in another notebook than the chapter's own: chapter 02b measures numbers that
`results.json` keeps under 02_finetune, the chapter whose helper and models they measure.
tests/test_results_page.py checks that every key of the committed `results.json` has a label and every section exists.
"""

QUESTIONS = {
    '00_data': [
        ('Is the test split clean?', 'Duplicates across splits', [
            ('drug_duplicates_cross_split', 'Review texts that appear in more than one split (train, validation, test)')]),
        ('What must every model beat?', 'Splits and label schemes', [
            ('drug_majority_test_accuracy_binary', 'Test accuracy of always predicting the most common label (binary labels)')]),
    ],
    '00_models': [
        ('How big is the bundled model, and how much of a review does it read?', 'The bundled pretrained model', [
            ('minilm_parameters_millions', "MiniLM's parameters, in millions"),
            ('share_reviews_over_128_pieces', 'Share of drug reviews longer than 128 word pieces (cut when read)')]),
    ],
    '01_logreg': [
        ('Is the gradient right?', 'Checking the gradient', [
            ('gradcheck_rel_err_finite_diff', 'Relative error of the hand-derived gradient against finite differences'),
            ('gradcheck_rel_err_autograd', "Relative error of the hand-derived gradient against torch's autograd")]),
        ('Does it agree with scikit-learn?', 'Parity with scikit-learn', [
            ('sklearn_loss_gap', "Our loss minus scikit-learn's at the optimum"),
            ('sklearn_max_coef_gap', "Largest difference between our coefficients and scikit-learn's")]),
        ('Is Newton fast?', 'Speed: Newton against scikit-learn\'s default solver', [
            ('time_ratio_sklearn_lbfgs_over_newton', "scikit-learn's lbfgs time over our Newton solver's time")]),
        ('How far does a linear model on frozen features get?', 'The bridge to BERT: a linear probe', [
            ('linear_probe_test_accuracy', 'Test accuracy of a linear probe on frozen MiniLM features'),
            ('linear_probe_test_macro_f1', 'Its macro F1 on test')]),
    ],
    '01_pretraining': [
        ('Is the hand-written transformer layer right?', 'Checked against transformers, layer by layer', [
            ('layer_max_abs_diff', "Largest difference between the course's BERT layer and the transformers layer")]),
        ('What did masked-language-model pretraining learn?', 'Part 2: pretraining a small BERT by masked language modelling', [
            ('vocabulary_size', 'Word pieces in the tokenizer trained on the pretraining text'),
            ('pretraining_minutes', 'Minutes of masked-language-model pretraining'),
            ('heldout_mlm_accuracy_reviews', 'Masked pieces predicted correctly on held-out drug reviews'),
            ('heldout_mlm_accuracy_tweets', 'Masked pieces predicted correctly on held-out tweets')]),
        ('How much do the representations know before fine-tuning?', 'Reading a representation: the linear probe', [
            ('probe_accuracy', 'Linear-probe accuracy on each encoder\'s frozen features')]),
        ('What is pretraining worth when the model is fine-tuned?', 'Fine-tuning at 64 labels, with the power to see a difference', [
            ('pretrained_minus_scratch_64_labels', 'Pretrained here minus from scratch, balanced test accuracy after fine-tuning on 64 labels'),
            ('distilled_minus_scratch_64_labels', 'Distilled from MiniLM minus from scratch, balanced test accuracy after fine-tuning on 64 labels'),
            ('detectable_difference_64_labels', 'Smallest difference in balanced accuracy the 64-label design detects four times in five (the larger of its two comparisons)'),
            ('pretrained_minus_scratch_test_accuracy', 'Pretrained here minus from scratch, test accuracy with every label')]),
    ],
    '02_finetune': [
        ('How well does the recipe do, over three random seeds?', 'The recipe, and results over three random seeds', [
            ('binary_test_accuracy_mean', 'Test accuracy of the recipe, mean of three random seeds'),
            ('binary_test_accuracy_std', 'Its spread across the random seeds (standard deviation)'),
            ('binary_test_macro_f1_mean', 'Its macro F1 on test, mean of three random seeds'),
            ('binary_minus_probe_test_accuracy', 'The recipe minus the linear probe, test accuracy'),
            ('binary_linear_probe_test_accuracy', 'Test accuracy of the linear probe it is compared with'),
            ('binary_cls_head_test_accuracy_mean', 'Test accuracy with a head on the [CLS] piece instead of mean pooling'),
            ('binary_cls_head_test_accuracy_std', 'Its spread across the random seeds (standard deviation)'),
            ('binary_cls_head_test_macro_f1_mean', 'Its macro F1 on test'),
            ('binary_cls_head_minus_probe_test_accuracy', 'The [CLS] head minus the linear probe, test accuracy'),
            ('precision', 'The precision the chapter trained in on this CPU')]),
        ('Does bf16 cost accuracy?', ('02b_engineering', 'bf16 against float32: does the faster precision cost accuracy?'), [
            ('parity_bf16_test_accuracy_mean', 'Test accuracy trained in bf16, mean of three random seeds'),
            ('parity_bf16_test_accuracy_std', 'Its spread across the random seeds (standard deviation)'),
            ('parity_fp32_test_accuracy_mean', 'Test accuracy trained in float32, mean of three random seeds'),
            ('parity_fp32_test_accuracy_std', 'Its spread across the random seeds (standard deviation)'),
            ('parity_bf16_minus_fp32_test_accuracy', 'bf16 minus float32, test accuracy'),
            ('parity_bf16_minutes_per_run', 'Minutes per run in bf16'),
            ('parity_fp32_minutes_per_run', 'Minutes per run in float32')]),
        ('How fast is the course\'s loop against Trainer and the naive loop?', ('02b_engineering', 'Benchmark: our helper against Hugging Face Trainer and the naive loop'), [
            ('bench_cpu', 'The CPU the benchmark ran on'),
            ('bench_examples_per_s[*]', 'Training examples per second: {}'),
            ('bench_valid_accuracy_after_one_pass[*]', 'Validation accuracy after one pass: {}'),
            ('bench_share_of_matmul_rate[*]', "Share of the CPU's matrix-multiply rate reached: {}"),
            ('bench_matmul_gflops[*]', 'Matrix-multiply rate of this CPU in GFLOP/s: {}'),
            ('bench_ours_bf16_over_ours_fp32', 'Our loop in bf16 over our loop in float32, examples per second'),
            ('bench_ours_bf16_over_trainer_grouped_bf16', 'Our loop in bf16 over Trainer grouped by length in bf16')]),
        ('Where does a training step spend its time, and what helps?', ('02b_engineering', 'Measuring speed: a profile, a ratio, a parity check'), [
            ('bench_profile_top_ops', "The training step's costliest operations and their share of CPU time"),
            ('bench_integer_masks_over_uniform_masks_bf16', 'Our loop in bf16 with dropout masks from random integers over uniform numbers, examples per second'),
            ('integer_masks_minus_uniform_test_accuracy', "Dropout masks from random integers minus from uniform numbers, the recipe's test accuracy (three random seeds)"),
            ('integer_masks_minus_uniform_detectable', 'The smallest difference that comparison can detect'),
            ('parallel_scoring_speedup', "Speed-up of scoring the three random seeds' models in two one-thread processes, over one process"),
            ('parallel_seeds_speedup', 'Speed-up of four short training runs (random seeds) in two one-thread processes, over one two-thread process'),
            ('reuse_memory_training_speedup', 'Speed-up of a short training run when malloc keeps freed memory, over malloc as glibc sets it'),
            ('reuse_memory_scoring_speedup', 'Speed-up of scoring the test reviews when malloc keeps freed memory, over malloc as glibc sets it')]),
    ],
    '03_transfer': [
        ('How far apart are tweets and drug reviews?', 'How far apart are the two domains?', [
            ('domain_classifier_accuracy', 'Accuracy of a classifier telling tweets from reviews on frozen features')]),
        ('What does the tweets model do on drug reviews as it is?', 'Label shift: the two domains disagree on how common each label is', [
            ('zero_shot_accuracy', "The tweets model's test accuracy on drug reviews, no drug labels"),
            ('zero_shot_prior_adjusted_accuracy', 'The same, its predictions adjusted to a label prior estimated without labels'),
            ('zero_shot_true_prior_adjusted_accuracy', 'The same, adjusted to the true label prior (an upper bound)')]),
        ('What does domain-adaptive pretraining change?', 'Self-supervised learning: domain-adaptive pretraining', [
            ('dapt_heldout_mlm_loss_fresh_head', 'Held-out masked-LM loss with a fresh prediction head'),
            ('dapt_heldout_mlm_loss_start', 'Held-out masked-LM loss before adaptation'),
            ('dapt_heldout_mlm_loss_end', 'Held-out masked-LM loss after adaptation'),
            ('dapt_frozen_encoder_mlm_loss_end', 'The same, training the head only (the encoder frozen): the control')]),
        ('Which LoRA settings, and what do they train?', "Choosing LoRA's settings on validation", [
            ('lora_settings', 'The LoRA settings chosen on validation'),
            ('lora_trainable_share', "Share of the model's parameters LoRA trains")]),
        ('Which learning rate for each method at few labels?', "Few labels: enough steps, and each method's learning rate chosen on validation", [
            ('few_label_learning_rates', 'Learning rate chosen on validation, per method and label budget')]),
        ('Which method wins at each label budget?', 'Every method at every budget', [
            ('test_accuracy[*]', 'Test accuracy over random seeds, mean ± spread [interval]: {}'),
            ('macro_f1[*]', 'Macro F1 on test: {}'),
            ('setfit_test_accuracy[*]', 'SetFit test accuracy with {} labels'),
            ('setfit_minus_sequential[*]', 'SetFit minus sequential transfer with {} labels, test accuracy'),
            ('from_scratch_64_labels_test_accuracy', 'A model trained from scratch on 64 labels: test accuracy'),
            ('lora_minus_full_all_labels', 'LoRA minus full fine-tuning with every label, test accuracy')]),
        ('Which model is best, and which would a team ship?', 'The best binary model of the grid, chosen on validation', [
            ('best_binary_model', 'The best model of the grid, chosen on validation'),
            ('best_binary_test_accuracy', 'Its test accuracy'),
            ('shipped_model_recipe', 'The model a team would ship, retrained on training and validation reviews'),
            ('shipped_model_test_accuracy', 'Its test accuracy'),
            ('shipped_minus_previous_best', 'The shipped model minus the grid\'s best, test accuracy')]),
    ],
    '04_adversarial': [
        ('Do the attacks keep the label?', 'One candidate table, checked by a sentiment lexicon', [
            ('word_attack_polarity_crossing_share', "Share of the word attack's swaps that cross sentiment polarity (the fixed table)"),
            ('word_attack_polarity_crossing_share_old_table', 'The same share for the table it replaces'),
            ('char_attack_success_vs_deepwordbug', "Character attack's success: ours and DeepWordBug's, on the same reviews")]),
        ('Do attacks run faster with fused attention, or side by side?', 'Scoring robustness', [
            ('sdpa_attacks_speedup', "Speed-up of the victims answering with PyTorch's fused (sdpa) attention, over eager attention"),
            ('parallel_attacks_speedup', 'Speed-up of running attack jobs in parallel one-thread processes, over one process'),
            ('bf16_weights_attacks_speedup', 'Speed-up of the victims answering with their weights held in bf16, over float32 weights'),
            ('query_batch_attacks_speedup', 'Speed-up of the victims answering at most 16 texts per model call, over 64')]),
        ('How often does an attack fool plain fine-tuning?', 'The final comparison, on test', [
            ('plain_char_success', 'Character attack success against plain fine-tuning'),
            ('plain_word_success', 'Word attack success against plain fine-tuning'),
            ('accuracy_under_char_attack[*]', 'Test accuracy under the character attack: {}'),
            ('accuracy_under_word_attack[*]', 'Test accuracy under the word attack: {}')]),
        ('Does the best defence buy robustness?', 'Defences against plain fine-tuning', [
            ('best_defence', 'The defence chosen on validation'),
            ('best_clean_minus_plain', 'Its clean test accuracy minus plain fine-tuning\'s'),
            ('best_char_success_minus_plain', 'Its character attack success minus plain\'s'),
            ('best_word_success_minus_plain', 'Its word attack success minus plain\'s')]),
    ],
    '05_explore': [
        ('Are the attributions faithful?', 'Token attributions: Integrated Gradients, with a check', [
            ('ig_completeness_error_max', 'Largest completeness error of Integrated Gradients (attributions against the change in output)')]),
        ('Can the probabilities be taken at face value?', 'Calibration: can the probabilities be taken at face value?', [
            ('temperature', 'Temperature fitted on validation'),
            ('test_ece_before', 'Expected calibration error on test, before scaling'),
            ('test_ece_after', 'Expected calibration error on test, after scaling'),
            ('test_nll_before', 'Negative log-likelihood on test, before scaling'),
            ('test_nll_after', 'Negative log-likelihood on test, after scaling'),
            ('valid_nll_before', 'Negative log-likelihood on validation, before scaling'),
            ('valid_nll_after', 'Negative log-likelihood on validation, after scaling')]),
        ('Which mistakes does it make?', 'Error analysis: the most confident mistakes', [
            ('test_errors', 'Test reviews the model gets wrong')]),
    ],
    '06_multimodal': [
        ('Does a small CLIP classify digits it was never labelled on?', 'Zero-shot classification, retrieval, and the baselines', [
            ('zero_shot_accuracy', 'Zero-shot test accuracy with the five training templates'),
            ('heldout_template_zero_shot_accuracy', 'Zero-shot test accuracy with three templates never seen in training'),
            ('retrieval_recall_at_1', 'Retrieval recall@1, each direction'),
            ('few_shot_probe_accuracy', 'Accuracy of a linear probe on the image features, by labelled images per digit')]),
        ('What does "zero-shot" need?', 'What "zero-shot" needs', [
            ('unseen_digits_zero_shot_accuracy', 'Zero-shot accuracy on digits whose words never appeared in training')]),
        ('Does the text side hear word order?', 'Three text sides', [
            ('pairs_seen_zero_shot_accuracy', 'Zero-shot accuracy on scenes of two digits, pairs seen in training'),
            ('pairs_heldout_zero_shot_accuracy', 'The same, on pairs held out of training'),
            ('order_swap_accuracy_naive', 'Choosing the right order over the swapped caption: the first text side'),
            ('order_swap_accuracy_fixed', 'The same, with the text side that hears order')]),
        ('Does a review\'s metadata help?', 'Part 3: a review and its metadata', [
            ('best_fusion', 'The fusion chosen on validation'),
            ('best_fusion_minus_text_only', 'It minus the text-only model, test accuracy')]),
        ('Does metadata still help the course\'s fine-tuned model?', "Fusion with the course's fine-tuned model", [
            ('fusion_with_finetuned_minus_text', 'Fusion with the fine-tuned model minus that model alone, test accuracy')]),
    ],
}


def section_of(chapter: str, section) -> tuple:
    "Where a question's section lies, as (notebook, heading): a plain heading is in the chapter's own notebook."
    return tuple(section) if isinstance(section, tuple) else (chapter, section)


def label_of(chapter: str, key: str):
    """The (question, section, label, rank) of a chapter's key, or None when `QUESTIONS` does not label it; rank is the
    label's place in the chapter's list, the order the results page shows the numbers in."""
    entries = [(q, s, pattern, label) for q, s, labels in QUESTIONS.get(chapter, []) for pattern, label in labels]
    for rank, (question, section, pattern, label) in enumerate(entries):
        if pattern.endswith('[*]'):
            stem = pattern[:-2]
            if key.startswith(stem) and key.endswith(']') and '[' not in key[len(stem):-1]:
                return question, section, label.format(key[len(stem):-1]), rank
        elif key == pattern:
            return question, section, label, rank
    return None
