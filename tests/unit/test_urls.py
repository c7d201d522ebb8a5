"""The one parse of target URLs, and the SSRF verdict on every spelling of a host."""

from __future__ import annotations

import ipaddress
import socket

import pytest
from hypothesis import given
from hypothesis import strategies as st

from waypost.domain.urls import check_url, is_forbidden_address, parse_url, target_refusal
from waypost.errors import ValidationFailed

FULLWIDTH_LOOPBACK = "\uff11\uff12\uff17.\uff10.\uff10.\uff11"

MALFORMED = [
    ("http://[::1/", "'[' without ']'"),
    ("http://[zzzz]/", "[zzzz] is not an IPv6 address"),
    ("http://[127.0.0.1]/", "[127.0.0.1] is not an IPv6 address"),
    ("http://[fe80::1%25eth0]/", "zone id"),
    ("http://[::1]x/", "after the ']'"),
    ("http://example.com:99999/", "port must be a number from 1 to 65535"),
    ("http://example.com:-1/", "port must be"),
    ("http://example.com:0/", "port must be"),
    ("http://example.com:/", "port must be"),
    ("http://example.com:+80/", "port must be"),
    ("http://example.com:\u0663/", "port must be"),
    ("http://example.com:80:90/", "port must be"),
    ("http://exa\r\nmple.com/", "control characters or whitespace"),
    ("http://example.com/a\r\nX-Injected: 1", "control characters or whitespace"),
    ("http://example.com/\x00", "control characters or whitespace"),
    ("http://example.com/\x7f", "control characters or whitespace"),
    ("http://exa mple.com/", "control characters or whitespace"),
    ("http://example.com/a b", "control characters or whitespace"),
    ("http://example.com/\u00a0", "control characters or whitespace"),
    ("http://example.com/\u2028", "control characters or whitespace"),
    (" http://example.com/", "control characters or whitespace"),
    ("http://example.com\\@10.0.0.1/", "'\\\\'"),
    ("http://example.com/<script>", "'<'"),
    ("http://example.com/%zz", "two hex digits"),
    ("http://a@b@example.com/", "more than one '@'"),
    ("ftp://example.com/", "http or https"),
    ("javascript:alert(1)", "http or https"),
    ("example.com/hook", "http or https"),
    ("http:example.com", "http or https"),
    ("http:///nohost", "has no host"),
    ("http://user@/x", "has no host"),
    ("http://999.1.1.1/", "not an IPv4 address"),
    ("http://example.123/", "not an IPv4 address"),
    ("http://08/", "not an IPv4 address"),
    ("http://a..b/", "not a valid host name"),
    ("http://-a.example/", "not a valid host name"),
    ("http://ex%41mple.com/", "not a valid host name"),
    ("http://" + "a" * 64 + ".example/", "not a valid host name"),
]

NON_PUBLIC = [
    "http://127.0.0.1:9000/hook",
    "http://2130706433/",
    "http://0177.0.0.1/",
    "http://0x7f.0.0.1/",
    "http://0X7F.1/",
    "http://127.1/",
    "http://0/",
    "http://0x0/",
    "http://127.0.0.1./",
    f"http://{FULLWIDTH_LOOPBACK}/",
    "http://10.1.2.3/x",
    "http://012.1/x",
    "http://169.254.169.254/latest/meta-data",
    "http://100.64.1.1/x",
    "http://192.168.1.1/",
    "http://[::1]/x",
    "http://[::]/x",
    "http://[::ffff:127.0.0.1]/x",
    "http://[::ffff:7f00:1]:8080/x",
    "http://[::127.0.0.1]/",
    "http://[2002:7f00:1::]/",
    "http://[64:ff9b::7f00:1]/",
    "http://[fe80::1]/",
    "http://[fc00::1]/",
    "http://localhost/x",
    "http://LOCALHOST./x",
    "http://api.localhost/x",
]

PUBLIC = [
    "https://hooks.example.com/x",
    "https://hooks.example.com/x?a=1&b=%20#frag",
    "HTTPS://Hooks.Example.COM:8443/x",
    "http://user:password@hooks.example.com/x",
    "https://93.184.216.34/hook",
    "https://1572395042/hook",  # 93.184.216.34 as one number: an address, and public
    "http://[2606:2800:220:1:248:1893:25c8:1946]:443/x",
    "http://[2002:5db8:d822::1]/",  # 6to4 of the public 93.184.216.34
    "http://b\u00fccher.example/\u00fc",
    "http://xn--bcher-kva.example/",
    "http://my_host.example./",
]


@pytest.mark.parametrize(("url", "reason"), MALFORMED)
def test_malformed_urls_are_refused_with_the_reason(url: str, reason: str) -> None:
    for allow_private in (False, True):
        refusal = target_refusal(url, allow_private=allow_private)
        assert refusal is not None and reason in refusal, refusal


@pytest.mark.parametrize("url", NON_PUBLIC)
def test_every_spelling_of_a_non_public_host_is_refused(url: str) -> None:
    refusal = target_refusal(url, allow_private=False)
    assert refusal is not None and "WAYPOST_ALLOW_PRIVATE_TARGETS=1" in refusal, refusal
    assert target_refusal(url, allow_private=True) is None


@pytest.mark.parametrize("url", PUBLIC)
def test_public_targets_are_accepted(url: str) -> None:
    assert target_refusal(url, allow_private=False) is None


def test_the_host_is_the_one_the_client_reaches() -> None:
    assert parse_url(f"http://{FULLWIDTH_LOOPBACK}:8080/").host == "127.0.0.1"
    parsed = parse_url("http://0x7f.1:8080/x")
    assert (parsed.host, parsed.address, parsed.port) == (
        "0x7f.1",
        ipaddress.IPv4Address("127.0.0.1"),
        8080,
    )
    assert parse_url("http://B\u00fccher.example/").host == "xn--bcher-kva.example"
    bracketed = parse_url("https://[::FFFF:7F00:1]/")
    assert (bracketed.host, bracketed.port) == ("::ffff:7f00:1", None)
    assert parse_url("https://hooks.example.com/x").address is None


def test_check_url_names_the_field() -> None:
    with pytest.raises(ValidationFailed) as refused:
        check_url("http://[::1/", field="callback_url", allow_private=True)
    assert refused.value.reason.startswith("callback_url: ")
    check_url("https://hooks.example.com/x", field="callback_url", allow_private=False)


def _part(value: int, radix: str, upper: bool) -> str:
    if radix == "oct":
        return "0" + format(value, "o")
    if radix == "hex":
        return ("0X" if upper else "0x") + format(value, "X" if upper else "x")
    return str(value)


@st.composite
def ipv4_spellings(draw: st.DrawFn) -> tuple[ipaddress.IPv4Address, str]:
    """An IPv4 address and one of the ways inet_aton reads it: 1 to 4 parts, the last
    taking the remaining bytes, each decimal, octal or hex."""
    address = ipaddress.IPv4Address(draw(st.integers(0, 2**32 - 1)))
    octets = address.packed
    count = draw(st.integers(1, 4))
    parts = [*octets[: count - 1], int.from_bytes(octets[count - 1 :], "big")]
    radix = st.sampled_from(["dec", "oct", "hex"])
    text = ".".join(_part(part, draw(radix), draw(st.booleans())) for part in parts)
    return address, text


@given(ipv4_spellings())
def test_numeric_hosts_are_read_as_inet_aton_reads_them(
    spelled: tuple[ipaddress.IPv4Address, str],
) -> None:
    address, text = spelled
    assert ipaddress.IPv4Address(socket.inet_aton(text)) == address
    assert parse_url(f"http://{text}:80/x").address == address
    refusal = target_refusal(f"http://{text}/", allow_private=False)
    assert (refusal is not None) == is_forbidden_address(address)


@given(st.integers(0, 2**32 - 1))
def test_ipv4_mapped_addresses_are_judged_as_ipv4(number: int) -> None:
    address = ipaddress.IPv4Address(number)
    mapped = ipaddress.IPv6Address(f"::ffff:{address}")
    assert is_forbidden_address(mapped) == is_forbidden_address(address)
    refused = target_refusal(f"http://[{mapped}]/", allow_private=False) is not None
    assert refused == is_forbidden_address(address)


@given(st.text(max_size=40) | st.text(max_size=20).map(lambda tail: "http://" + tail))
def test_any_text_gets_a_verdict_and_never_an_exception(text: str) -> None:
    refusal = target_refusal(text, allow_private=False)
    assert refusal is None or isinstance(refusal, str)
