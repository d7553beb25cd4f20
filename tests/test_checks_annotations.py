"""analyzer.checks.annotations: OpenShift's rotation annotations against the certificate in the secret."""

from __future__ import annotations

from dataclasses import replace

import pytest

from analyzer.checks.annotations import (
    NOT_AFTER,
    NOT_BEFORE,
    check_rotation_annotations,
    rotation_annotations,
)
from analyzer.wiring.model import Copy
from tests.fixtures.models import CTX, in_etcd, pair_load, synced
from tests.fixtures.pki import DAY, REFERENCE_UTC, make_ca, make_leaf

CA = make_ca("signer")
PAIR = make_leaf(CA, "localhost", server=True, not_before=REFERENCE_UTC - 10 * DAY, lifetime=30 * DAY)


def stamp(moment) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def load_with(annotations: dict[str, str]):
    secret = replace(in_etcd("openshift-kube-apiserver", "localhost-serving-cert-certkey", "tls.crt", PAIR.cert_pem),
                     annotations=tuple(sorted(annotations.items())))
    return pair_load(PAIR.cert_pem, PAIR.key_pem, copies=(synced(Copy.SYNCED_FROM, secret, None),))


def test_agreeing_annotations_give_no_finding():
    cert = PAIR.cert
    assert check_rotation_annotations(load_with({NOT_BEFORE: stamp(cert.not_valid_before_utc), NOT_AFTER: stamp(cert.not_valid_after_utc)}), CTX) == []


def test_annotation_claiming_a_later_end_is_a_warning_naming_both_dates():
    claimed = PAIR.cert.not_valid_after_utc + 365 * DAY
    (found,) = check_rotation_annotations(load_with({NOT_BEFORE: stamp(PAIR.cert.not_valid_before_utc), NOT_AFTER: stamp(claimed)}), CTX)
    assert found.id == "annotations.drift" and found.severity.value == "warning"
    assert stamp(claimed) in found.detail and stamp(PAIR.cert.not_valid_after_utc) in found.detail
    assert "will not rotate it before then" in found.detail and found.remediation


def test_annotation_ending_earlier_is_information_only():
    early = PAIR.cert.not_valid_after_utc - 5 * DAY
    (found,) = check_rotation_annotations(load_with({NOT_BEFORE: stamp(PAIR.cert.not_valid_before_utc), NOT_AFTER: stamp(early)}), CTX)
    assert found.severity.value == "info" and not found.remediation


@pytest.mark.parametrize(("annotations", "problem"), [
    ({NOT_BEFORE: "2025-01-01T00:00:00Z"}, "missing notAfter"),
    ({NOT_AFTER: "tomorrow", NOT_BEFORE: "2025-01-01T00:00:00Z"}, "bad expiry: 'tomorrow'"),
    ({NOT_AFTER: "2025-07-01T00:00:00Z"}, "missing notBefore"),
    ({NOT_AFTER: "2025-07-01T00:00:00", NOT_BEFORE: "2025-01-01T00:00:00Z"}, "bad expiry: '2025-07-01T00:00:00'"),
])
def test_missing_or_malformed_annotations_make_the_operator_reissue_and_are_not_drift(annotations, problem):
    load = load_with(annotations)
    assert rotation_annotations(load.copies[0].cert).problem == problem
    assert check_rotation_annotations(load, CTX) == []
