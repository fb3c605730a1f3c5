"""The pure parts of plugins/modules/apt_keyring.py: fingerprints read from gpg's colon output, and pins."""
from ansible_collections.koinonia.fleet.plugins.modules.apt_keyring import (
    check_pins, normalize_fingerprint, primary_fingerprints)

# gpg --with-colons --import-options show-only --import: a key with a subkey, then a second key.
COLONS = """\
pub:-:255:22:6B6BB0C4D2C6D4A4:1764549941:1767141941::-:::scSC::::::23::0:
fpr:::::::::1678B0D508A797674B78D2B26B6BB0C4D2C6D4A4:
uid:-::::1764549941::0E9A2D1E4A1E0A4C2E7F0E1B5A7C7D9E5B0F4D22::koinonia test CURRENT <CURRENT@koinonia.test>::::::::::0:
sub:-:255:18:1234567890ABCDEF:1764549941::::::e::::::23:
fpr:::::::::AAAABBBBCCCCDDDDEEEEFFFF0000111122223333:
pub:-:255:22:993B297ADED1A6ED:1764549941:1767141941::-:::scSC::::::23::0:
fpr:::::::::4a28f92d53e8d0ccbc47e302993b297aded1a6ed:
"""


def test_only_the_primary_keys_fingerprints_count_not_the_subkeys():
    assert primary_fingerprints(COLONS) == ["1678B0D508A797674B78D2B26B6BB0C4D2C6D4A4",
                                            "4A28F92D53E8D0CCBC47E302993B297ADED1A6ED"]
    assert primary_fingerprints("") == []


def test_a_fingerprint_is_forty_hex_digits_spaces_and_case_aside():
    assert normalize_fingerprint("d188 8656 7EAB AD8B 2D25  2690 0D82 6EB9 0646 2314") == \
        "D18886567EABAD8B2D2526900D826EB906462314"
    assert normalize_fingerprint("06462314") is None  # a short key id is not a pin
    assert normalize_fingerprint("Z18886567EABAD8B2D2526900D826EB906462314") is None
    assert normalize_fingerprint("") is None


def test_each_pin_missing_from_its_file_is_named_with_what_the_file_holds():
    fetched = {"https://k/CURRENT": ["AAA"], "https://k/A": ["BBB"], "https://k/B": ["CCC"]}
    wanted = [("https://k/CURRENT", ""), ("https://k/A", "BBB"), ("https://k/B", "DDD"), ("https://k/C", "EEE")]
    assert check_pins(fetched, wanted) == [
        "https://k/B does not hold the pinned key DDD (it holds CCC)",
        "https://k/C does not hold the pinned key EEE (it holds no key)",
    ]
