"""analyzer.checks.validity: expired, not yet valid, expiring (with the short-lived rule), and
expired CAs inside bundles. Go checks dates while verifying, so the error is the peer's."""

from __future__ import annotations

from datetime import timedelta

import pytest

from analyzer.checks.validity import check_bundle_validity, check_validity, warning_window
from analyzer.model.findings import Severity
from tests.fixtures.models import CTX, bundle_load, pair_load, peer_trusting
from tests.fixtures.pki import DAY, ISSUED_UTC, REFERENCE_UTC, YEAR, bundle, make_ca, make_leaf

CA = make_ca("kubernetes")


def leaf_ending(left: timedelta, lifetime: timedelta = YEAR, **options):
    """A leaf whose validity ends ``left`` after the reference time (negative: it has ended)."""
    return make_leaf(CA, "kube-apiserver", server=True, not_before=REFERENCE_UTC + left - lifetime, lifetime=lifetime, **options)


def serving(pair, **options):
    return pair_load(pair.cert_pem, pair.key_pem, **options)


def test_a_valid_certificate_gives_no_finding():
    assert check_validity(serving(make_leaf(CA, "kube-apiserver", server=True)), CTX) == []


def test_an_expired_certificate_is_refused_by_its_peers_in_gos_words():
    pair = leaf_ending(-10 * DAY)
    [found] = check_validity(serving(pair, peer=peer_trusting(CA.cert_pem, name="clients of kube-apiserver", usage="server")), CTX)
    assert found.id == "validity.expired"
    assert found.severity is Severity.ERROR and not found.blocks_start
    assert found.go_error == "x509: certificate has expired or is not yet valid: current time 2025-06-01T12:00:00Z is after 2025-05-22T12:00:00Z"
    assert found.peer == "clients of kube-apiserver"
    assert "expired at 2025-05-22T12:00:00Z, 10 days before the reference time" in found.detail


def test_an_expired_etcd_client_certificate_is_critical():
    pair = leaf_ending(-DAY)
    load = pair_load(pair.cert_pem, pair.key_pem, role="etcd-client", purpose=None, label="etcd client pair")
    [found] = check_validity(load, CTX)
    assert found.severity is Severity.CRITICAL
    assert "cannot reach its storage" in found.detail


def test_an_expired_kubelet_serving_certificate_nobody_verifies_is_a_warning():
    pair = leaf_ending(-DAY)
    load = pair_load(pair.cert_pem, pair.key_pem, role="kubelet-serving", component="kubelet", purpose=None, fatal=False)
    [found] = check_validity(load, CTX)
    assert (found.id, found.severity) == ("validity.expired", Severity.WARNING)
    assert "--kubelet-certificate-authority" in found.detail


def test_a_certificate_issued_in_the_future_is_not_yet_valid():
    pair = make_leaf(CA, "kube-apiserver", server=True, not_before=REFERENCE_UTC + 2 * DAY)
    [found] = check_validity(serving(pair), CTX)
    assert found.id == "validity.not-yet-valid"
    assert found.go_error == "x509: certificate has expired or is not yet valid: current time 2025-06-01T12:00:00Z is before 2025-06-03T12:00:00Z"


@pytest.mark.parametrize(("lifetime", "left", "warns"), [
    (30 * DAY, 23 * DAY, False),  # a 30-day OpenShift leaf at its usual rotation point
    (30 * DAY, 5 * DAY, True),  # in the last fifth of its life
    (30 * DAY, 6 * DAY, True),  # exactly a fifth left
    (30 * DAY, 7 * DAY, False),
    (YEAR, 20 * DAY, True),  # a long-lived certificate: --warn-days
    (YEAR, 30 * DAY, True),
    (YEAR, 31 * DAY, False),
    (60 * DAY, 20 * DAY, True),  # twice the window: the ordinary rule already
])
def test_expiring_warns_within_warn_days_or_the_last_fifth_of_a_short_life(lifetime, left, warns):
    pair = leaf_ending(left, lifetime)
    found = check_validity(serving(pair), CTX)
    assert bool(found) is warns
    if warns:
        [finding] = found
        assert (finding.id, finding.severity) == ("validity.expiring", Severity.WARNING)
        assert finding.go_error is None
        assert f"expires in {left.days} days" in finding.title


def test_the_warning_window_follows_the_lifetime():
    assert warning_window(leaf_ending(DAY, 30 * DAY).cert, CTX) == 6 * DAY
    assert warning_window(leaf_ending(DAY, YEAR).cert, CTX) == 30 * DAY


def test_a_pair_that_does_not_load_is_not_judged_on_its_dates():
    pair = leaf_ending(-DAY)
    other = make_leaf(CA, "someone-else")
    assert check_validity(pair_load(pair.cert_pem, other.key_pem), CTX) == []
    assert check_validity(pair_load(pair.cert_pem, b""), CTX) == []
    assert check_validity(pair_load(pair.cert_pem, None), CTX) == []


# -- CA bundles ----------------------------------------------------------------------------------

OLD_CA = make_ca("old-kubernetes", not_before=ISSUED_UTC - 2 * YEAR, lifetime=YEAR)
OTHER_OLD_CA = make_ca("older-kubernetes", not_before=ISSUED_UTC - 3 * YEAR, lifetime=YEAR)


def test_a_bundle_of_valid_cas_gives_no_finding():
    assert check_bundle_validity(bundle_load(bundle(CA, make_ca("front-proxy-ca"))), CTX) == []


def test_an_expired_ca_among_valid_ones_is_a_warning():
    [found] = check_bundle_validity(bundle_load(bundle(OLD_CA, CA)), CTX)
    assert (found.id, found.severity) == ("validity.ca-expired", Severity.WARNING)
    assert "1 of 2 CA certificate(s)" in found.title
    assert "the other certificates of the bundle still verify" in found.detail
    assert found.go_error == "x509: certificate has expired or is not yet valid: current time 2025-06-01T12:00:00Z is after 2024-01-02T00:00:00Z"  # 2024 is a leap year


def test_a_bundle_of_only_expired_cas_is_an_error():
    [found] = check_bundle_validity(bundle_load(bundle(OLD_CA, OTHER_OLD_CA)), CTX)
    assert (found.id, found.severity) == ("validity.ca-expired", Severity.ERROR)
    assert "every CA certificate(s)" in found.title
    assert "CN=old-kubernetes" in found.detail and "CN=older-kubernetes" in found.detail


def test_an_unparseable_bundle_is_left_to_the_bundle_check():
    assert check_bundle_validity(bundle_load(b"garbage\n"), CTX) == []
