"""Chinese word segmentation for the knowledge-base index and queries (jieba, search mode).

Chinese has no spaces, so both the articles and the query are cut into words with jieba's
"search engine" mode, which also emits the shorter words inside long ones (住房公积金 → 住房, 公积,
公积金, 住房公积金). A query then matches articles that contain its words in any order, and the
exact phrase is rewarded separately by the ranker. Latin words and numbers are lower-cased.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Iterable

import jieba

jieba.setLogLevel(logging.WARNING)

# Single characters that carry no meaning for search (particles, pronouns, question words).
STOP = frozenset("的了是在和与及或我你您他她它们这那有个也就都而被把对从向为以于请吗呢吧啊么怎如何哪什")
MAX_TERM = 64

_lock = threading.Lock()
_tokenizer: jieba.Tokenizer | None = None


def tokenizer(user_dict: str | None = None) -> jieba.Tokenizer:
    """The shared jieba tokenizer, loaded once (about a second) with the optional user dictionary."""
    global _tokenizer
    with _lock:
        if _tokenizer is None:
            tok = jieba.Tokenizer()
            tok.initialize()
            if user_dict:
                tok.load_userdict(user_dict)
            _tokenizer = tok
        return _tokenizer


def _keep(token: str) -> bool:
    token = token.strip()
    if not token or not any(ch.isalnum() for ch in token):
        return False
    return not (len(token) == 1 and token in STOP)


def terms(text: str) -> list[str]:
    """Index terms of ``text`` in order, repeated as often as they occur."""
    if not text:
        return []
    return [t.strip().lower()[:MAX_TERM] for t in tokenizer().cut_for_search(text) if _keep(t)]


def term_counts(title: str, body: str, title_weight: int = 3) -> Counter[str]:
    """Term frequencies of an article, the title counting ``title_weight`` times."""
    counts: Counter[str] = Counter()
    for t in terms(title):
        counts[t] += title_weight
    counts.update(terms(body))
    return counts


def unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))
