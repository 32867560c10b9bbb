import numpy as np
import pytest

from ocelot_common.text import load_tokenizer, normalise_command, tokenize


class WordTokenizer:
    """Stands in for a tokenizers.Tokenizer: [CLS]=1 words... [SEP]=2, no padding configured."""

    padding = truncation = None

    class Encoding:
        def __init__(self, ids):
            self.ids = ids

    def encode(self, text):
        return self.Encoding([1] + [10 + len(w) for w in text.split()] + [2])


def test_commands_are_normalised_padded_and_cut_keeping_the_end_token():
    assert normalise_command("  Track   THE face ") == "track the face"
    ids, mask = tokenize(WordTokenizer(), ["Track the face", "a b c d e f g h"], 6)
    np.testing.assert_array_equal(ids[0], [1, 15, 13, 14, 2, 0])
    np.testing.assert_array_equal(mask[0], [1, 1, 1, 1, 1, 0])
    assert ids[1, -1] == 2 and mask[1].all()  # cut to 6, [SEP] kept
    assert ids.dtype == mask.dtype == np.int64


def test_a_file_that_is_not_a_tokenizer_is_named(tmp_path):
    bad = tmp_path / "tok.json"
    bad.write_text("{}")
    with pytest.raises(ValueError, match="tok.json is not a tokenizer.json"):
        load_tokenizer(bad)
