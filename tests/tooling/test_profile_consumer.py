"""bench/profile_consumer.py's pure parts: whose a sampled stack is, and the summary."""

from __future__ import annotations

from bench.profile_consumer import owner_of, package_of, side_of, summarize

SITE = "/venv/lib/python3.11/site-packages"
STDLIB = "/usr/lib/python3.11"
HANDLER = ("/repo/functions/topicdesk/runtime/work.py", "update")
CALL = (f"{SITE}/botocore/client.py", "_make_api_call")
SIGN = (f"{SITE}/botocore/signers.py", "sign")
EMAIL = (f"{STDLIB}/email/message.py", "__setitem__")
MOTO = (f"{SITE}/moto/core/botocore_stubber.py", "__call__")
METER = ("/repo/bench/meter.py", "metered")


def test_a_file_is_named_by_its_package_or_our_layer() -> None:
    assert package_of(HANDLER[0]) == "topicdesk.runtime"
    assert package_of(CALL[0]) == "botocore"
    assert package_of(EMAIL[0]) == "stdlib.email"
    assert package_of("<frozen importlib._bootstrap>") == "(frozen/builtins)"


def test_the_standard_librarys_work_belongs_to_whoever_called_it() -> None:
    assert owner_of((HANDLER, CALL, SIGN, EMAIL)) == "botocore"


def test_moto_and_the_meter_are_set_apart_from_the_lambdas_cpu() -> None:
    assert side_of((HANDLER, CALL, MOTO, EMAIL)) == "moto"
    assert side_of((HANDLER, CALL, METER, (f"{STDLIB}/json/decoder.py", "decode"))) == "meter"
    assert side_of((HANDLER, CALL, SIGN)) is None


def test_the_summary_is_in_ms_per_update_and_leaves_moto_out() -> None:
    samples = {
        (HANDLER, CALL, SIGN, EMAIL): 0.3,  # CPU seconds over 100 updates: 3 ms each
        (HANDLER, CALL): 0.1,
        (HANDLER,): 0.1,
        (HANDLER, CALL, MOTO): 5.0,
    }
    text = summarize(samples, updates=100, top=5)
    assert "Lambda's CPU per update (sampled, 4 stacks): 5.00 ms; left out: moto 50.00 ms" in text
    assert "  4.000   80.0 %  botocore" in text  # by owner: the signer's email work included
    assert "  3.000   60.0 %  botocore: sign (SigV4)" in text
