#!/usr/bin/env python3
"""Reference numbers for translation_metrics_test: reads `corpus<TAB>hypothesis<TAB>reference
[<TAB>reference...]` lines, tokenizes every side with a transcription of sacrebleu's
tokenizer_13a (its four regular expressions, verbatim), and prints one JSON object:
  {"tokens": [[hypothesis tokens, [reference tokens...]], ...],   # in input order
   "bleu": {corpus: {"none": x, "floor": y, "exp": z}} or null when nltk is missing}
BLEU is NLTK's corpus_bleu on those tokens: no smoothing, method1 (epsilon 0.1) and method3.
"""
import json
import re
import sys
import warnings

RULES = [
    (re.compile(r"([\{-\~\[-\` -\&\(-\+\:-\@\/])"), r" \1 "),
    (re.compile(r"([^0-9])([\.,])"), r"\1 \2 "),
    (re.compile(r"([\.,])([^0-9])"), r" \1 \2"),
    (re.compile(r"([0-9])(-)"), r"\1 \2 "),
]


def tokenize_13a(line):
    line = line.replace("<skipped>", "").replace("-\n", "").replace("\n", " ")
    if "&" in line:
        line = line.replace("&quot;", '"').replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">")
    line = f" {line} "
    for pattern, replacement in RULES:
        line = pattern.sub(replacement, line)
    return line.split()


def main():
    corpora = {}
    tokens = []
    with open(sys.argv[1], encoding="utf-8", newline="\n") as lines:
        for line in lines:
            fields = line.rstrip("\n").split("\t")
            hypothesis = tokenize_13a(fields[1])
            references = [tokenize_13a(reference) for reference in fields[2:]]
            tokens.append([hypothesis, references])
            corpus = corpora.setdefault(fields[0], ([], []))
            corpus[0].append(hypothesis)
            corpus[1].append(references)
    bleu = None
    try:
        from nltk.translate.bleu_score import SmoothingFunction, corpus_bleu
    except ImportError:
        print("nltk_bleu.py: nltk is not installed for " + sys.executable + " (Debian: python3-nltk)", file=sys.stderr)
    else:
        warnings.simplefilter("ignore")  # NLTK warns about zero counts without smoothing
        bleu = {}
        for name, (hypotheses, references) in corpora.items():
            bleu[name] = {
                "none": corpus_bleu(references, hypotheses),
                "floor": corpus_bleu(references, hypotheses, smoothing_function=SmoothingFunction(epsilon=0.1).method1),
                "exp": corpus_bleu(references, hypotheses, smoothing_function=SmoothingFunction().method3),
            }
    json.dump({"tokens": tokens, "bleu": bleu}, sys.stdout)


if __name__ == "__main__":
    main()
