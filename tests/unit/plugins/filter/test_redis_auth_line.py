"""The AUTH line redis-cli reads from its standard input. redis-cli splits such a line the way
sdssplitargs() does; split_like_redis_cli below is that rule for double-quoted text (backslash
escapes), so the round trip is checked without a server (molecule/standalone checks it with one)."""
import pytest
from ansible.errors import AnsibleFilterError
from hypothesis import given
from hypothesis import strategies as st

from ansible_collections.koinonia.fleet.plugins.filter.redis_auth_line import redis_auth_line

PRINTABLE = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7e), min_size=1)
ESCAPES = {'n': '\n', 'r': '\r', 't': '\t', 'b': '\b', 'a': '\a'}


def split_like_redis_cli(line):
    """The arguments of one line, as sdssplitargs() reads them (double quotes and escapes)."""
    args, i = [], 0
    while i < len(line):
        if line[i] == ' ':
            i += 1
            continue
        current = ''
        if line[i] == '"':
            i += 1
            while line[i] != '"':
                if line[i] == '\\' and i + 1 < len(line):
                    i += 1
                    current += ESCAPES.get(line[i], line[i])
                else:
                    current += line[i]
                i += 1
            i += 1
        else:
            while i < len(line) and line[i] != ' ':
                current += line[i]
                i += 1
        args.append(current)
    return args


def test_a_plain_password():
    assert redis_auth_line('s3cret-password') == 'AUTH "s3cret-password"'


def test_quotes_backslashes_and_spaces_survive():
    hostile = "p@ss:w/rd \"$%#?'\\ x`~{}[]&*;=+,<>|!^ end\\n"
    assert split_like_redis_cli(redis_auth_line(hostile)) == ['AUTH', hostile]


@given(PRINTABLE)
def test_any_printable_password_round_trips(password):
    assert split_like_redis_cli(redis_auth_line(password)) == ['AUTH', password]


@pytest.mark.parametrize('bad', ['', None, 12345, ['pw']])
def test_not_a_password_is_refused(bad):
    with pytest.raises(AnsibleFilterError, match='non-empty password string'):
        redis_auth_line(bad)


@pytest.mark.parametrize('bad', ['first-line\nsecond-line', 'tab\there', 'nul\x00'])
def test_a_control_character_is_refused_without_showing_the_password(bad):
    with pytest.raises(AnsibleFilterError) as error:
        redis_auth_line(bad)
    assert bad not in str(error.value) and 'value not shown' in str(error.value)
