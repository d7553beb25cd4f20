"""What Go and Kubernetes do with the bytes: each function answers "Go accepts" or Go's exact error."""

import warnings

from cryptography.utils import CryptographyDeprecationWarning

# Go parses a certificate whose serial number is zero (crypto/x509 parser.go rejects only negative
# ones, since Go 1.23); RKE2 and k3s write their CAs with serial 0 (rancher/dynamiclistener). cryptography
# parses it but warns that it will refuse it one day: the warning says nothing about what the cluster's
# components do, so it is not shown. (A cryptography that refuses it makes the certificate
# "cannot be checked", never a crash: see the certificate loaders in this package.)
warnings.filterwarnings("ignore", message="Parsed a serial number which wasn't positive", category=CryptographyDeprecationWarning)
