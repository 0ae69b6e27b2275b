#!/usr/bin/env python3
"""Regenerate the reference fixtures for the `litmus-metrics` crate.

The Rust implementations of ROUGE, BLEU and chrF in `crates/litmus-metrics`
are tested against the values that the reference Python packages compute:

* ROUGE: Google's `rouge-score` (what Hugging Face `evaluate`'s "rouge" wraps),
  with its default tokenizer, with and without the Porter stemmer (NLTK's
  `PorterStemmer()` in its default NLTK_EXTENSIONS mode, which is what
  rouge-score instantiates).
* BLEU and chrF: `sacrebleu` with its defaults (13a tokenizer; exp smoothing;
  effective order for sentence BLEU; chrF char order 6, word order 0, beta 2),
  at sentence and corpus level, plus a few non-default options.

Usage (from the repository root):

    python3 -m pip install rouge-score nltk sacrebleu
    python3 scripts/gen_metric_fixtures.py

The fixtures are written to `crates/litmus-metrics/tests/fixtures/`. The Rust
tests only read those JSON files; Python is not needed to run them. The output
is deterministic (seeded), so rerunning with the same package versions gives
byte-identical files.
"""

import json
import logging
import os
import platform
import random
import sys
from importlib import metadata

import nltk
import sacrebleu
from nltk.stem import porter
from rouge_score import rouge_scorer, tokenizers
from sacrebleu.metrics import BLEU, CHRF
from sacrebleu.tokenizers.tokenizer_13a import Tokenizer13a

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT_DIR = os.path.join(ROOT, "crates", "litmus-metrics", "tests", "fixtures")

ROUGE_TYPES = ["rouge1", "rouge2", "rougeL", "rougeLsum"]


def versions():
    return {
        "python": platform.python_version(),
        "rouge-score": metadata.version("rouge-score"),
        "nltk": nltk.__version__,
        "sacrebleu": sacrebleu.__version__,
    }


# ---------------------------------------------------------------------------
# Hand-written cases: (id, prediction, [references])
# ---------------------------------------------------------------------------

SEED_PRED = (
    "Star Trek and Star Wars, while both set in space, differ significantly in their themes and "
    "focus. Star Trek, primarily a TV franchise, explores scientific and philosophical issues, "
    "emphasizing diplomacy and exploration. Its stories are set in a universe where Earth is part "
    "of a vast, multi-species United Federation of Planets. The narrative often revolves around "
    "the crew of starships, like the USS Enterprise, as they embark on peaceful explorations and "
    "diplomatic missions. In contrast, Star Wars is a space opera centered around the epic battle "
    "between good (the Jedi) and evil (the Sith). It's a film series set in a galaxy far, far "
    "away, where mystical Force users and grand space battles take center stage. Star Wars is "
    "known for its iconic characters like Darth Vader and its focus on destiny and heroism, "
    "differing from Star Trek's more grounded and intellectual approach."
)
SEED_REF = (
    "Star Trek and Star Wars are both popular space franchises, but they have distinct "
    "differences. Star Trek, which originated as a television series, is known for its focus on "
    "exploration, science, and philosophy. It is set in a future where Earth is part of an "
    "interstellar federation, and the narrative usually involves the crew of spacecraft, such as "
    "the Enterprise, engaging in exploration and diplomatic efforts. Star Wars, on the other "
    "hand, is a cinematic saga that leans more towards the space opera genre, with a clear "
    "delineation of good (represented by the Jedi) and evil (embodied by the Sith). It takes "
    "place in a distant galaxy and is more centered on action, adventure, and the mystical Force, "
    "with legendary figures like Luke Skywalker and Darth Vader. Unlike Star Trek's emphasis on "
    "rationality and discovery, Star Wars focuses on the theme of heroism and the classic battle "
    "between light and dark."
)

HAND_CASES = [
    ("identical", "The quick brown fox jumps over the lazy dog.",
     ["The quick brown fox jumps over the lazy dog."]),
    ("rouge_readme", "The quick brown dog jumps on the log.",
     ["The quick brown fox jumps over the lazy dog"]),
    ("disjoint", "completely unrelated words here", ["nothing in common at all"]),
    ("empty_prediction", "", ["The cat sat on the mat."]),
    ("empty_reference", "The cat sat on the mat.", [""]),
    ("both_empty", "", [""]),
    ("whitespace_only", "   \t  ", ["  \n "]),
    ("punctuation_only", "?!... ,,, ;;", ["!!! ???"]),
    ("case_difference", "THE CAT SAT ON THE MAT", ["the cat sat on the mat"]),
    ("numbers", "In 2023, revenue grew 3.5% to $1,234,567 (up from 1.2M).",
     ["Revenue grew by 3.5 percent in 2023 to $1,234,567, up from $1.2M."]),
    ("numbers_hyphen", "Scores of 10-20 and -5 to 3-4 were seen on 2024-01-15.",
     ["Scores were 10 - 20 and - 5 to 3 - 4 on 2024-01-15."]),
    ("decimal_commas", "Pi is 3.14159, e is 2.71828; 1,000,000 is a million.",
     ["Pi is about 3.14, and e is 2.718. A million is 1,000,000."]),
    ("unicode_accents", "Le café était très bon, naïve façade à Zürich.",
     ["Le cafe etait tres bon, naive facade a Zurich."]),
    ("unicode_cjk", "東京は日本の首都です。 Tokyo is the capital.",
     ["東京は日本の首都です。Tokyo is Japan's capital."]),
    ("unicode_turkish_kelvin", "İstanbul is cold: 273 \u212a at night.",
     ["istanbul is cold, 273 K at night"]),
    ("unicode_emoji", "Great job 🙂👍 — really great!",
     ["Great job! Really great 👍"]),
    ("unicode_sharp_s", "Die Straße ist groß. STRASSE!", ["Die Strasse ist gross."]),
    ("unicode_greek", "Η ΟΔΟΣ είναι μεγάλη ΟΔΟΣ", ["η οδος ειναι μεγαλη"]),
    ("unicode_whitespace", "tab\tseparated\u00a0nbsp\u2003emspace\u3000ideographic\x1cfs",
     ["tab separated nbsp emspace ideographic fs"]),
    ("multiline_simple", "First sentence here.\nSecond sentence there.\nThird one.",
     ["First sentence is here.\nThe second sentence is there.\nA third one."]),
    ("multiline_reordered", "Third one.\nFirst sentence here.\nSecond sentence there.",
     ["First sentence here.\nSecond sentence there.\nThird one."]),
    ("multiline_blank_lines", "alpha beta\n\n\ngamma delta\n", ["alpha beta gamma\n\ndelta"]),
    ("multiline_crlf", "one two three\r\nfour five six\r\n", ["one two\r\nthree four five six"]),
    ("multiline_vs_single", "the cat sat on the mat\nthe dog ate the bone",
     ["the cat sat on the mat the dog ate the bone"]),
    ("lsum_repeats", "the the the cat\nthe cat the cat",
     ["the cat\nthe cat the the"]),
    ("lsum_ties", "a b c d\nd c b a\nb a d c", ["a b c d e\ne d c b a"]),
    ("hyphen_newline", "state-of-the-\nart systems are well-known", ["state-of-the-art systems are well known"]),
    ("html_entities", "Tom &amp; Jerry &lt;3 &quot;cheese&quot; &gt; milk",
     ["Tom & Jerry <3 \"cheese\" > milk"]),
    ("skipped_marker", "This <skipped> sentence has a marker.", ["This sentence has a marker."]),
    ("brackets_symbols", "f(x) = {a: [1, 2]} | g`y` ~ h^2 @home #tag",
     ["f ( x ) = { a : [ 1 , 2 ] } | g ` y ` ~ h ^ 2 @ home # tag"]),
    ("apostrophes", "It's John's book, isn't it? Rock 'n' roll.",
     ["It is John's book, is it not? Rock and roll."]),
    ("trailing_period_tokenized", "the end .", ["the end."]),
    ("stemming_words", "The runners were running and jumped happily over the flies",
     ["A runner runs and jumps happily over a fly"]),
    ("stemming_irregular", "dying lying tying skies news innings outings cannings proceed exceed succeed",
     ["die lie tie sky news inning outing canning proceeds exceeds succeeds"]),
    ("stemming_suffixes", "relational conditional rationality digitizer conformably radically "
     "differently vilely analogously vietnamization predication operator feudalism decisiveness "
     "hopefulness callousness formality sensitivity sensibility",
     ["relate condition rational digitize conformable radical different vile analogous "
      "vietnamize predicate operate feudal decisive hopeful callous formal sensitive sensible"]),
    ("repeated_tokens", "the the the the the", ["the cat is on the mat"]),
    ("single_token", "yes", ["yes"]),
    ("single_char_tokens", "a b c", ["c b a"]),
    ("long_ref_short_pred", "short", ["this is a much longer reference sentence with many tokens in it"]),
    ("short_ref_long_pred", "this is a much longer prediction sentence with many tokens in it", ["short one"]),
    ("multi_ref_basic", "The cat is on the mat.",
     ["There is a cat on the mat.", "A cat is on the mat.", "The mat has a cat."]),
    ("multi_ref_with_empty", "The cat is on the mat.", ["", "The cat is on a mat."]),
    ("multi_ref_tie", "alpha beta", ["alpha gamma", "beta delta", "alpha beta gamma delta"]),
    ("multi_ref_lengths", "one two three four five",
     ["one two three", "one two three four five six seven", "five four three two one"]),
    ("underscore_and_digits", "snake_case_name v2_final x86_64", ["snake case name v2 final x86 64"]),
    ("seed_article_quantization", SEED_PRED, [SEED_REF]),
]


# ---------------------------------------------------------------------------
# Random cases
# ---------------------------------------------------------------------------

VOCAB = (
    "the a an of to in and or but is are was were be been model models quantized quantization "
    "accuracy accuracies evaluate evaluation evaluations running runs ran runner happily "
    "happiness generalization generalizations relational conditionally hopefulness "
    "caresses ponies ties feed agreed plastered motoring sing conflated troubled sized hopping "
    "falling hissing fizzed failing filing happy sky skies dying news "
    "3.14 1,000 2-3 -5 42 2024 0.5% $10 10x v1.2.3 "
    "café naïve Zürich İstanbul \u212a Straße 東京 日本語 🙂 — “quoted” ‘single’ … "
    ", . ! ? ; : ( ) [ ] { } \" ' - -- / \\ & &amp; &lt; &gt; &quot; <skipped> @ # * + = _ ~ ^ |"
).split(" ")
SEPARATORS = [" ", " ", " ", " ", " ", "  ", "\t", "\n", "-\n", "\r\n", "\u00a0", "\u3000"]


def random_text(rng, n_tokens):
    out = []
    for i in range(n_tokens):
        out.append(rng.choice(VOCAB))
        if i + 1 < n_tokens:
            out.append(rng.choice(SEPARATORS))
    return "".join(out)


def mutate(rng, text):
    toks = text.split(" ")
    res = []
    for t in toks:
        r = rng.random()
        if r < 0.12:
            continue
        if r < 0.24:
            res.append(rng.choice(VOCAB))
        elif r < 0.30:
            res.extend([t, rng.choice(VOCAB)])
        else:
            res.append(t)
    if len(res) > 3 and rng.random() < 0.4:
        i = rng.randrange(len(res) - 1)
        res[i], res[i + 1] = res[i + 1], res[i]
    return " ".join(res)


def random_cases(seed=20240601, count=30):
    rng = random.Random(seed)
    cases = []
    for i in range(count):
        n = rng.randint(0, 40) if i % 7 else rng.randint(0, 3)
        ref = random_text(rng, n)
        n_refs = 1 if rng.random() < 0.7 else rng.randint(2, 3)
        refs = [ref] + [mutate(rng, ref) for _ in range(n_refs - 1)]
        pred = mutate(rng, ref) if rng.random() < 0.85 else random_text(rng, rng.randint(0, 30))
        cases.append((f"random_{i:02d}", pred, refs))
    return cases


# ---------------------------------------------------------------------------
# ROUGE
# ---------------------------------------------------------------------------

def score_tuple(s):
    return [s.precision, s.recall, s.fmeasure]


def rouge_fixture(cases):
    scorers = {
        "nostem": rouge_scorer.RougeScorer(ROUGE_TYPES, use_stemmer=False),
        "stem": rouge_scorer.RougeScorer(ROUGE_TYPES, use_stemmer=True),
    }
    tok_plain = tokenizers.DefaultTokenizer(use_stemmer=False)
    tok_stem = tokenizers.DefaultTokenizer(use_stemmer=True)
    out = []
    for cid, pred, refs in cases:
        entry = {
            "id": cid,
            "prediction": pred,
            "references": refs,
            "tokens": {
                "prediction": tok_plain.tokenize(pred),
                "prediction_stemmed": tok_stem.tokenize(pred),
            },
        }
        for key, scorer in scorers.items():
            if len(refs) == 1:
                res = scorer.score(refs[0], pred)
            else:
                res = scorer.score_multi(refs, pred)
            entry[key] = {t: score_tuple(res[t]) for t in ROUGE_TYPES}
        out.append(entry)
    return out


# ---------------------------------------------------------------------------
# Porter stemmer vocabulary
# ---------------------------------------------------------------------------

CLASSIC_WORDS = (
    "caresses ponies ties caress cats feed agreed plastered bled motoring sing conflated "
    "troubled sized hopping tanned falling hissing fizzed failing filing happy sky relational "
    "conditional rational valenci hesitanci digitizer conformabli radicalli differentli vileli "
    "analogousli vietnamization predication operator feudalism decisiveness hopefulness "
    "callousness formaliti sensitiviti sensibiliti triplicate formative formalize electriciti "
    "electrical hopeful goodness revival allowance inference airliner gyroscopic adjustable "
    "defensible irritant replacement adjustment dependent adoption homologou communism activate "
    "angulariti homologous effective bowdlerize probate rate cease controll roll generalizations "
    "oscillators skies dying lying tying news innings inning outings outing cannings canning howe "
    "proceed exceed succeed enjoy enjoyment spy fly try spied tried flies cries dies lies "
    "archaeology analogies geology fully hopefully beautifully logically syyzygy yyyy ayyyy "
    "toy toys syzygy trees ivy troubles private oaten orrery sses ied eed ing ed ational "
    "happiness agreement knightly quietly conspiracy national nationality organization "
    "organizational universal university universe universities generously ability abilities "
    "running runner runners runs jumped jumping jumps happily happier happiest easily "
    "1990s 2000s mp3s abc123 x86 utf8 a1b2c3d4 covid19 4ever"
).split()

SUFFIXES = [
    "", "s", "es", "sses", "ies", "ss", "ed", "ied", "eed", "ing", "at", "bl", "iz", "y",
    "ational", "tional", "enci", "anci", "izer", "bli", "abli", "alli", "entli", "eli", "ousli",
    "ization", "ation", "ator", "alism", "iveness", "fulness", "ousness", "aliti", "iviti",
    "biliti", "fulli", "logi", "icate", "ative", "alize", "iciti", "ical", "ful", "ness", "al",
    "ance", "ence", "er", "ic", "able", "ible", "ant", "ement", "ment", "ent", "sion", "tion",
    "ou", "ism", "ate", "iti", "ous", "ive", "ize", "e", "ll", "lled", "lling", "yed", "ying",
]
CONS = "bcdfghjklmnpqrstvwxyz"
VOWELS = "aeiouy"


def porter_vocabulary(cases, seed=7, count=4000):
    rng = random.Random(seed)
    words = set(CLASSIC_WORDS)
    tok = tokenizers.DefaultTokenizer(use_stemmer=False)
    for _, pred, refs in cases:
        for text in [pred] + refs:
            words.update(t for t in tok.tokenize(text) if len(t) > 3)
    while len(words) < count:
        stem_len = rng.randint(1, 6)
        stem = "".join(
            rng.choice(CONS) if rng.random() < 0.55 else rng.choice(VOWELS) for _ in range(stem_len)
        )
        if rng.random() < 0.2:
            stem += stem[-1]
        suffix = rng.choice(SUFFIXES)
        if rng.random() < 0.2:
            suffix += rng.choice(SUFFIXES)
        word = stem + suffix
        if len(word) > 3:
            words.add(word)
    stemmer = porter.PorterStemmer()
    return {w: stemmer.stem(w) for w in sorted(words)}


# ---------------------------------------------------------------------------
# BLEU / chrF
# ---------------------------------------------------------------------------

def bleu_result(score):
    return {
        "score": score.score,
        "counts": list(score.counts),
        "totals": list(score.totals),
        "precisions": list(score.precisions),
        "bp": score.bp,
        "sys_len": score.sys_len,
        "ref_len": score.ref_len,
    }


def to_streams(refs_per_segment):
    """Per-segment reference lists -> sacrebleu reference streams (None pads)."""
    width = max(len(r) for r in refs_per_segment)
    return [[r[k] if k < len(r) else None for r in refs_per_segment] for k in range(width)]


def bleu_fixture(cases):
    tok = Tokenizer13a()
    sentence = []
    for cid, pred, refs in cases:
        s = sacrebleu.sentence_bleu(pred, refs)
        sentence.append({"id": cid, "hypothesis": pred, "references": refs, **bleu_result(s)})

    option_sets = {
        "floor": dict(smooth_method="floor"),
        "floor_0.01": dict(smooth_method="floor", smooth_value=0.01),
        "add-k": dict(smooth_method="add-k"),
        "none": dict(smooth_method="none"),
        "exp_no_effective_order": dict(smooth_method="exp", use_effective_order=False),
        "lowercase": dict(lowercase=True),
    }
    options = []
    for name, kw in option_sets.items():
        for cid, pred, refs in cases[::3]:
            s = sacrebleu.sentence_bleu(pred, refs, **kw)
            options.append({"options": name, "id": cid, "hypothesis": pred, "references": refs,
                             **bleu_result(s)})

    corpus = []
    for cname, subset in corpora(cases):
        hyps = [c[1] for c in subset]
        refs = [c[2] for c in subset]
        s = sacrebleu.corpus_bleu(hyps, to_streams(refs))
        eff = sacrebleu.corpus_bleu(hyps, to_streams(refs), use_effective_order=True)
        corpus.append({"id": cname, "hypotheses": hyps, "references": refs,
                       "default": bleu_result(s), "effective_order": bleu_result(eff)})

    tokenize = []
    seen = set()
    for cid, pred, refs in cases:
        for text in [pred] + refs:
            if text not in seen:
                seen.add(text)
                tokenize.append([text, tok(text.rstrip())])
    return {"sentence": sentence, "options": options, "corpus": corpus, "tokenize_13a": tokenize}


def corpora(cases):
    single = [c for c in cases if len(c[2]) == 1]
    multi = [c for c in cases if len(c[2]) > 1]
    return [
        ("all", cases),
        ("single_ref", single),
        ("multi_ref", multi),
        ("first_ten", cases[:10]),
        ("one_segment", cases[1:2]),
        ("empties", [c for c in cases if c[0] in ("empty_prediction", "empty_reference", "both_empty")]),
    ]


def chrf_fixture(cases):
    sentence = []
    for cid, pred, refs in cases:
        s = sacrebleu.sentence_chrf(pred, refs)
        pp = CHRF(word_order=2).sentence_score(pred, refs)
        eps = CHRF(eps_smoothing=True).sentence_score(pred, refs)
        lc = CHRF(lowercase=True, whitespace=True).sentence_score(pred, refs)
        sentence.append({"id": cid, "hypothesis": pred, "references": refs, "chrf": s.score,
                         "chrf_pp": pp.score, "chrf_eps": eps.score,
                         "chrf_lowercase_whitespace": lc.score})
    corpus = []
    for cname, subset in corpora(cases):
        hyps = [c[1] for c in subset]
        refs = [c[2] for c in subset]
        corpus.append({
            "id": cname, "hypotheses": hyps, "references": refs,
            "chrf": sacrebleu.corpus_chrf(hyps, to_streams(refs)).score,
            "chrf_pp": CHRF(word_order=2).corpus_score(hyps, to_streams(refs)).score,
        })
    return {"sentence": sentence, "corpus": corpus}


def write(name, payload):
    path = os.path.join(OUT_DIR, name)
    doc = {
        "generated_by": "scripts/gen_metric_fixtures.py",
        "versions": versions(),
        **payload,
    }
    with open(path, "w", encoding="utf-8") as f:
        json.dump(doc, f, ensure_ascii=False, indent=1)
        f.write("\n")
    print(f"wrote {os.path.relpath(path, ROOT)}", file=sys.stderr)


def main():
    # sentence_bleu without effective order warns once per call; the fixtures want it.
    logging.getLogger("sacrebleu").setLevel(logging.ERROR)
    os.makedirs(OUT_DIR, exist_ok=True)
    cases = HAND_CASES + random_cases()
    ids = [c[0] for c in cases]
    assert len(ids) == len(set(ids)), "duplicate case ids"
    write("rouge.json", {"cases": rouge_fixture(cases)})
    write("porter.json", {"stems": porter_vocabulary(cases)})
    write("bleu.json", bleu_fixture(cases))
    write("chrf.json", chrf_fixture(cases))


if __name__ == "__main__":
    main()
