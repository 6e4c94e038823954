"""The JSON-with-comments parser the workspace tests rely on."""

from __future__ import annotations

import pytest

from tests.workspace.jsonc import JsoncError, loads


def test_line_and_block_comments_are_removed() -> None:
    text = """
    // leading comment
    {
      "a": 1, // trailing comment
      /* block
         over lines */ "b": [2, 3]
    }
    """
    assert loads(text) == {"a": 1, "b": [2, 3]}


def test_comment_markers_inside_strings_are_kept() -> None:
    text = '{"url": "file:///x//y", "glob": "a/*b*/c", "quote": "say \\"//hi\\""}'
    assert loads(text) == {"url": "file:///x//y", "glob": "a/*b*/c", "quote": 'say "//hi"'}


def test_trailing_commas_are_removed_but_not_inside_strings() -> None:
    text = '{"a": [1, 2, ], "b": {"c": ",}",  },\n}'
    assert loads(text) == {"a": [1, 2], "b": {"c": ",}"}}


def test_trailing_comma_before_a_comment_is_removed() -> None:
    assert loads('{"a": 1, // last\n}') == {"a": 1}


def test_escaped_backslash_before_closing_quote() -> None:
    assert loads(r'{"regex": "\\d+\\", "next": 1}') == {"regex": "\\d+\\", "next": 1}


def test_errors_keep_the_original_line_number() -> None:
    text = '{\n  /* a\n  comment */\n  "a": 1\n  "b": 2\n}'
    with pytest.raises(JsoncError, match="line 5"):
        loads(text)


@pytest.mark.parametrize(
    "text, message",
    [
        ('{"a": 1 /* never closed', "unterminated /\\* comment"),
        ('{"a": "never closed}', "unterminated string"),
        ('{"a": 1,, }', "Expecting"),
    ],
)
def test_invalid_text_raises(text: str, message: str) -> None:
    with pytest.raises(JsoncError, match=message):
        loads(text)
