"""KJV corpus from Debian's bible-kjv-text (4.38), dumped with the `bible` program.

The text is one verse per line, without the book/chapter/verse reference, and books are separate
documents so the model sees an end-of-text token where one book ends and the next begins.
The held-out split is the last HELDOUT_FRACTION of all verses (the tail of the New Testament,
ending with Revelation); training never sees it, and the BPE vocabulary is learnt without it.
"""
import re
import subprocess

HELDOUT_FRACTION = 0.02
_REF = re.compile(r"^(\d?[A-Za-z]+)(\d+):(\d+) (.*)$")


def load_verses(bible_cmd="bible"):
    """Returns [(book, chapter, verse, text)] for the whole KJV, in canonical order.

    Fails with RuntimeError if the program is missing or its output is not one reference+verse
    per line (a different bible-kjv version would show up here, not as silently bad data)."""
    out = subprocess.run([bible_cmd, "-f", "gen1:1-rev22:21"], stdin=subprocess.DEVNULL,
                         capture_output=True, check=True, text=True).stdout
    verses = []
    for line in out.splitlines():
        m = _REF.match(line)
        if not m:
            raise RuntimeError(f"unexpected line from {bible_cmd}: {line[:80]!r}")
        verses.append((m.group(1), int(m.group(2)), int(m.group(3)), m.group(4).strip()))
    if len(verses) != 31102:
        raise RuntimeError(f"expected 31102 KJV verses, got {len(verses)}")
    return verses


def split_documents(verses):
    """Groups verses into documents (one per book): [[verse text, ...], ...]."""
    docs, last = [], None
    for book, _, _, text in verses:
        if book != last:
            docs.append([])
            last = book
        docs[-1].append(text)
    return docs


def train_heldout_split(verses):
    """Splits by verse index: the last HELDOUT_FRACTION of verses are held out."""
    n_held = int(round(len(verses) * HELDOUT_FRACTION))
    return verses[:-n_held], verses[-n_held:]


def doc_text(doc):
    return "\n".join(doc) + "\n"
