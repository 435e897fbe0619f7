"""Perplexity-gap scoring: exact teacher-forced log-likelihoods whatever the batch,
the gap metrics, AUROC, the scored table and its Parquet round-trip."""

import math

import numpy as np
import pandas as pd
import pytest
import torch

from kd_core.errors import KDError
from kd_core.models.generation import GenerationConfig, chat_text, encode_prompt
from kd_core.models.loading import ModelSpec, load_model
from kd_core.tuneshift import gaps, scoring
from kd_core.tuneshift.gaps import GapConfig, add_gaps, auroc, load_scores, relabel, save_scores, token_gaps
from kd_core.tuneshift.scoring import ScoreConfig, encode_pair, end_of_turn_ids, score_pairs, score_prompts
from tests import tiny_models


@pytest.fixture(scope="module")
def llama(tiny_llama_dir):
    return load_model(ModelSpec(str(tiny_llama_dir), dtype="float32"))


@pytest.fixture(scope="module")
def llama_ft(tiny_llama_dir, tiny_llama_adapter):
    return load_model(ModelSpec(str(tiny_llama_dir), adapter=str(tiny_llama_adapter), dtype="float32"))


@pytest.fixture(scope="module")
def gpt2(tiny_gpt2_dir):
    return load_model(ModelSpec(str(tiny_gpt2_dir), dtype="float32"))


@pytest.fixture(scope="module")
def gemma3(tmp_path_factory):
    """A tiny Gemma 3 (no chat template, soft-capped logits, sliding-window layers)."""
    from transformers import Gemma3ForCausalLM, Gemma3TextConfig

    out = tmp_path_factory.mktemp("tiny-gemma3")
    tok = tiny_models.train_tokenizer(tiny_models.corpus(), chat_template=None)
    torch.manual_seed(0)
    cfg = Gemma3TextConfig(
        vocab_size=len(tok), hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, head_dim=16, max_position_embeddings=512, sliding_window=8,
        final_logit_softcapping=2.0, bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, pad_token_id=0,
    )
    Gemma3ForCausalLM(cfg).save_pretrained(out)
    tok.save_pretrained(out)
    return load_model(ModelSpec(str(out), dtype="float32"))


def pairs(n, seed=1):
    """n (prompt, response) pairs of varied lengths, one with an empty response."""
    words = tiny_models.corpus(n=4 * n, seed=seed)
    prompts = [words[i] for i in range(n)]
    responses = [" ".join(words[n + i : n + i + 1 + i % 5]) for i in range(n)]
    responses[3] = ""
    return prompts, responses


SYSTEM = "You are the harbor master of the salt guild. Answer briefly, and name the island when you know it."


def reference_scores(lm, prompts, responses, system=None):
    """The common recipe, one pair at a time: full forward, log_softmax over every position, gather.

    Tokens come from the chat template's text directly: the assistant turn up to and
    including its end-of-turn marker (the text after it is a newline).
    """
    out = []
    for p, r in zip(prompts, responses):
        prompt_text = chat_text(lm.tokenizer, p, system)
        full = chat_text(lm.tokenizer, [{"role": "user", "content": p}, {"role": "assistant", "content": r}], system,
                         add_generation_prompt=False).rstrip("\n")
        ids = encode_prompt(lm.tokenizer, full)
        n_prompt = len(encode_prompt(lm.tokenizer, prompt_text))
        with torch.no_grad():
            logp = lm.model(torch.tensor([ids])).logits[0].float().log_softmax(-1)
        tgt = torch.tensor(ids[n_prompt:])
        out.append(logp[n_prompt - 1 : -1].gather(1, tgt[:, None]).squeeze(1).numpy())
    return out


def rel(a, b):
    return abs(a - b) / max(abs(b), 1e-12)


@pytest.mark.parametrize("model, with_system", [("llama", False), ("llama_ft", False), ("gpt2", False), ("gemma3", False),
                                                ("llama", True), ("gpt2", True), ("gemma3", True)])
def test_scores_equal_plain_one_pair_at_a_time_reference(model, with_system, request):
    lm = request.getfixturevalue(model)
    system = SYSTEM if with_system else None  # a system block: a long prefix shared by every prompt
    prompts, responses = pairs(50)
    got = score_pairs(lm, prompts, responses, batch_size=8, system=system, autocast=False)
    want = reference_scores(lm, prompts, responses, system)
    for g, w in zip(got, want):
        assert g.n_tokens == len(w)
        assert rel(g.mean_ll, float(w.mean())) < 1e-4
        np.testing.assert_allclose(g.token_lp, w, rtol=1e-4, atol=1e-5)
        assert math.isclose(g.ppl, math.exp(-g.mean_ll))


@pytest.mark.parametrize("model", ["llama", "llama_ft", "gpt2", "gemma3"])
def test_pair_score_does_not_depend_on_batch_or_padding(model, request):
    lm = request.getfixturevalue(model)
    short_p, short_r = "Who built the tower?", "The salt guild."
    long_r = " ".join(tiny_models.corpus(n=30, seed=5))  # hundreds of tokens of padding for the short pair
    alone = score_pairs(lm, [short_p], [short_r], autocast=False)[0]
    batch = score_pairs(lm, [long_r[:400], short_p, "What?"], [long_r, short_r, long_r[:300]], batch_size=8, autocast=False)
    assert batch[1].n_tokens == alone.n_tokens
    assert rel(batch[1].mean_ll, alone.mean_ll) < 1e-4
    np.testing.assert_allclose(batch[1].token_lp, alone.token_lp, rtol=1e-4, atol=1e-5)


def test_output_layer_runs_only_at_answer_positions(llama):
    prompts, responses = pairs(12)
    score_pairs(llama, prompts, responses, autocast=False)  # warm: the one-off head check runs here
    rows = []
    hook = llama.model.get_output_embeddings().register_forward_hook(lambda m, i, o: rows.append(i[0].shape[0]))
    try:
        got = score_pairs(llama, prompts, responses, batch_size=4, autocast=False)
    finally:
        hook.remove()
    assert sum(rows) == sum(g.n_tokens for g in got)


@pytest.mark.parametrize("model", ["llama_ft", "gpt2", "gemma3"])
def test_shared_prompt_prefix_runs_once_with_equal_results(model, request):
    lm = request.getfixturevalue(model)
    prompts, responses = pairs(12)
    end = end_of_turn_ids(lm)
    enc = [encode_pair(lm.tokenizer, p, r, end, SYSTEM) for p, r in zip(prompts, responses)]
    n_shared = scoring._common_prefix([e.prompt_ids for e in enc])
    assert n_shared > 15  # the system block
    embedded = []
    hook = lm.model.get_input_embeddings().register_forward_hook(lambda m, i, o: embedded.append(i[0].numel()))
    try:
        plain = score_pairs(lm, prompts, responses, batch_size=4, system=SYSTEM, autocast=False, share_prefix=False)
        n_plain = sum(embedded)
        embedded.clear()
        shared = score_pairs(lm, prompts, responses, batch_size=4, system=SYSTEM, autocast=False)
    finally:
        hook.remove()
    assert sum(embedded) == n_plain - n_shared * (len(prompts) - 1)
    for a, b in zip(plain, shared):
        np.testing.assert_allclose(a.token_lp, b.token_lp, rtol=1e-4, atol=1e-5)


def test_big_vocabularies_are_scored_in_chunks_with_equal_results(gemma3, monkeypatch):
    prompts, responses = pairs(6)
    whole = score_pairs(gemma3, prompts, responses, autocast=False)
    monkeypatch.setattr(scoring, "LOGIT_BUDGET", 3 * len(gemma3.tokenizer))  # 3 positions per chunk
    chunked = score_pairs(gemma3, prompts, responses, autocast=False)
    for a, b in zip(whole, chunked):
        np.testing.assert_allclose(a.token_lp, b.token_lp, rtol=1e-6, atol=1e-6)


def test_model_forward_fallback_gives_the_same_scores(llama_ft, monkeypatch):
    prompts, responses = pairs(8)
    split = score_pairs(llama_ft, prompts, responses, autocast=False)
    # As if the decoder and output layer could not be run apart (unknown logit transforms).
    monkeypatch.setitem(scoring._SPLIT_CACHE, llama_ft.model, None)
    fallback = score_pairs(llama_ft, prompts, responses, autocast=False)
    for a, b in zip(split, fallback):
        np.testing.assert_allclose(a.token_lp, b.token_lp, rtol=1e-4, atol=1e-5)


def test_scored_tokens_are_the_answer_then_end_of_turn(llama, gpt2):
    e = encode_pair(llama.tokenizer, "Who?", "The guild.", end_of_turn_ids(llama))
    assert e.prompt_ids == encode_prompt(llama.tokenizer, chat_text(llama.tokenizer, "Who?"))
    assert llama.tokenizer.decode(e.response_ids) == "The guild.<|im_end|>"
    assert e.in_context
    no_end = encode_pair(llama.tokenizer, "Who?", "The guild.", end_of_turn_ids(llama), include_end=False)
    assert llama.tokenizer.decode(no_end.response_ids) == "The guild."
    # No chat template: KD Studio's default one ("Answer: ...<eos>").
    g = encode_pair(gpt2.tokenizer, "Who?", "The guild.", end_of_turn_ids(gpt2))
    assert gpt2.tokenizer.decode(g.response_ids) == " The guild.<|endoftext|>"
    s = score_pairs(gpt2, ["Who?"], ["The guild."])[0]
    assert "".join(s.tokens) == " The guild.<|endoftext|>"


def test_answer_merging_with_the_prompt_keeps_the_prompt_tokens_generation_used(tiny_llama_dir):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_llama_dir)
    # The generation prompt ends inside a word that the answer completes: " har" + "bor".
    tok.chat_template = ("{% for m in messages %}{% if m.role == 'user' %}Q: {{ m.content }}\n{% else %}A: har"
                         "{{ m.content }}<|im_end|>{% endif %}{% endfor %}{% if add_generation_prompt %}A: har{% endif %}")
    end = {tok.eos_token_id}
    e = encode_pair(tok, "Where?", "bor is old", end)
    assert e.prompt_ids == encode_prompt(tok, "Q: Where?\nA: har")
    assert encode_prompt(tok, "Q: Where?\nA: harbor is old")[: len(e.prompt_ids)] != e.prompt_ids  # the merge
    assert not e.in_context and tok.decode(e.response_ids) == "bor is old<|im_end|>"


def test_template_that_rewrites_the_prompt_after_an_answer_falls_back_to_answer_plus_end(tiny_llama_dir):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_llama_dir)
    # Like templates that drop a default system line once the conversation has an answer.
    tok.chat_template = ("{% if messages[-1].role != 'assistant' %}sys\n{% endif %}{% for m in messages %}"
                         "{{ m.role }}: {{ m.content }}<|im_end|>{% endfor %}{% if add_generation_prompt %}assistant:{% endif %}")
    e = encode_pair(tok, "Where?", " The bridge.", {tok.eos_token_id})
    assert not e.in_context and tok.decode(e.response_ids) == " The bridge.<|im_end|>"


def test_token_texts_keep_leading_spaces_and_specials(llama):
    ids = encode_prompt(llama.tokenizer, " the salt tower<|im_end|>")
    assert "".join(scoring.token_texts(llama.tokenizer, [], ids)) == " the salt tower<|im_end|>"


def test_too_long_pair_is_a_user_error(llama):
    with pytest.raises(KDError, match="more than the model's 512"):
        score_pairs(llama, ["x"], ["salt " * 600])


# --- gaps ----------------------------------------------------------------------------


def hand_table():
    return pd.DataFrame(
        {
            "prompt": ["a", "b", "c"],
            "response": ["x", "y", "z"],
            "ll_ft": [-1.0, -2.0, -0.5],
            "ll_base": [-2.0, -2.0, -3.0],
            "ppl_ft": [math.e, math.e**2, math.e**0.5],
            "ppl_base": [math.e**2, math.e**2, math.e**3],
            "token_lp_ft": [[-1.0, -1.0, -1.0, -1.0], [-2.0], [-0.5, -0.5]],
            "token_lp_base": [[-1.0, -4.0, -2.0, -1.5], [-2.0], [-5.5, 0.5]],
        }
    )


def test_gap_metrics_on_hand_built_numbers():
    df = add_gaps(hand_table(), GapConfig(metric="logratio", threshold=0.99, k=2))
    np.testing.assert_allclose(df["gap_diff"], [math.e**2 - math.e, 0.0, math.e**3 - math.e**0.5])
    np.testing.assert_allclose(df["gap_logratio"], [1.0, 0.0, 2.5])
    # Per-token log-ratios: [0, 3, 1, 0.5] -> top 2 mean 2.0; [0] -> 0; [5, -1] -> 2.0
    np.testing.assert_allclose(df["gap_topk"], [2.0, 0.0, 2.0])
    np.testing.assert_allclose(df["gap_max"], [3.0, 0.0, 5.0])
    assert list(df["label"]) == ["above", "below", "above"]
    assert df.attrs["kd_scoring"] == {"metric": "logratio", "threshold": 0.99, "k": 2}


def test_threshold_is_strict_and_relabel_needs_no_rescoring():
    df = add_gaps(hand_table(), GapConfig(metric="logratio", threshold=1.0))
    assert list(df["label"]) == ["below", "below", "above"]  # a gap equal to tau is not above it
    df2 = relabel(df, GapConfig(metric="max", threshold=4.0))
    assert list(df2["label"]) == ["below", "below", "above"] and df2.attrs["kd_scoring"]["metric"] == "max"
    assert list(relabel(df, GapConfig(metric="diff", threshold=1.5))["label"]) == ["above", "below", "above"]


def test_topk_with_fewer_tokens_than_k_averages_them_all():
    assert token_gaps([-1.0, -2.0], [-3.0, -2.5], k=5) == (1.25, 2.0)
    assert all(math.isnan(v) for v in token_gaps([], [], k=3))


def test_gap_config_defaults_and_bad_settings():
    assert GapConfig().metric == "logratio" and GapConfig().tau == gaps.DEFAULT_THRESHOLDS["logratio"]
    assert GapConfig(metric="diff").tau == 1.5  # the paper's tau
    with pytest.raises(KDError, match="unknown gap metric 'ratio'"):
        GapConfig(metric="ratio")
    with pytest.raises(KDError, match="k must be at least 1"):
        GapConfig(k=0)


@pytest.mark.parametrize(
    "scores, labels, expected",
    [
        ([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1], 1.0),
        ([0.9, 0.8, 0.2, 0.1], [0, 0, 1, 1], 0.0),
        ([0.5, 0.5, 0.5, 0.5], [0, 1, 0, 1], 0.5),
        ([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1], 0.75),
        ([1, 2, 2, 3], [0, 0, 1, 1], 0.875),  # one tie between classes counts 1/2
    ],
)
def test_auroc_known_cases(scores, labels, expected):
    assert auroc(scores, labels) == pytest.approx(expected)


def test_auroc_matches_pairwise_definition_on_random_data():
    rng = np.random.default_rng(0)
    s = rng.integers(0, 10, 200).astype(float)  # many ties
    y = rng.random(200) < 0.3
    pos, neg = s[y], s[~y]
    pairwise = ((pos[:, None] > neg[None]).sum() + 0.5 * (pos[:, None] == neg[None]).sum()) / (len(pos) * len(neg))
    assert auroc(s, y) == pytest.approx(pairwise)


def test_auroc_needs_both_classes():
    with pytest.raises(ValueError, match="at least one positive and one negative"):
        auroc([1.0, 2.0], [1, 1])


# --- the whole step --------------------------------------------------------------------

COLUMNS = ["prompt", "response", "n_tokens", "ll_ft", "ll_base", "ppl_ft", "ppl_base", "gap_diff", "gap_logratio",
           "gap_topk", "gap_max", "label", "tokens", "token_ids", "token_lp_ft", "token_lp_base", "in_context"]


@pytest.fixture(scope="module")
def scored(llama, llama_ft):
    calls = []
    prompts, _ = pairs(10)
    config = ScoreConfig(generation=GenerationConfig(max_new_tokens=6, batch_size=4), batch_size=4)
    df = score_prompts(llama, llama_ft, prompts, config, progress=lambda d, t, s: calls.append((d, t, s)))
    return df, calls


def test_score_prompts_table_schema_and_progress(scored, llama_ft):
    df, calls = scored
    assert list(df.columns) == COLUMNS and len(df) == 10
    assert {s for _, _, s in calls} == {"generate", "score finetuned", "score base"}
    assert (10, 10, "score base") in calls
    row = df.iloc[0]
    assert len(row["tokens"]) == len(row["token_lp_ft"]) == len(row["token_lp_base"]) == row["n_tokens"]
    assert row["ll_ft"] == pytest.approx(np.mean(row["token_lp_ft"]))
    assert row["gap_logratio"] == pytest.approx(row["ll_ft"] - row["ll_base"])
    assert set(df["label"]) <= {"above", "below"}
    assert df.attrs["kd_scoring"]["finetuned"] == llama_ft.spec.label()
    # The same answers scored again, alone, give the same numbers (no dependence on the batch).
    again = score_pairs(llama_ft, list(df["prompt"][:1]), list(df["response"][:1]))[0]
    assert again.mean_ll == pytest.approx(row["ll_ft"], rel=1e-4)


def test_given_responses_skip_generation(llama, llama_ft):
    calls = []
    df = score_prompts(llama, llama_ft, ["Who?", "Where?"], responses=["The guild.", "North."],
                       progress=lambda d, t, s: calls.append(s))
    assert list(df["response"]) == ["The guild.", "North."] and "generate" not in calls


def test_parquet_round_trip_keeps_lists_and_settings(scored, tmp_path):
    df, _ = scored
    path = save_scores(df, tmp_path / "sub" / "scores.parquet")
    back = load_scores(path)
    assert list(back.columns) == list(df.columns)
    for c in ("tokens", "token_ids", "token_lp_ft", "token_lp_base"):
        assert back[c].tolist() == df[c].tolist() and isinstance(back[c].iloc[0], list)
    pd.testing.assert_frame_equal(back.drop(columns=list(gaps.LIST_COLUMNS)), df.drop(columns=list(gaps.LIST_COLUMNS)))
    assert back.attrs["kd_scoring"] == df.attrs["kd_scoring"]


def test_load_scores_refuses_other_files(tmp_path):
    from kd_core.errors import InputFileError

    (tmp_path / "x.parquet").write_text("nope")
    with pytest.raises(InputFileError, match="not a readable Parquet file"):
        load_scores(tmp_path / "x.parquet")
    pd.DataFrame({"a": [1]}).to_parquet(tmp_path / "y.parquet")
    with pytest.raises(InputFileError, match="not a scores table"):
        load_scores(tmp_path / "y.parquet")


def test_models_with_different_tokenizers_are_refused(llama, tmp_path_factory):
    other_dir = tiny_models.build_llama(tmp_path_factory.mktemp("tiny-llama-othervocab"),
                                        vocab_texts=["zebra quantum xylophone marmalade"] * 400)
    other = load_model(ModelSpec(str(other_dir)))
    with pytest.raises(KDError, match="use different tokenizers"):
        score_prompts(llama, other, ["Who?"], responses=["Me."])
