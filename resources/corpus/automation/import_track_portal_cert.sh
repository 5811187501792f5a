#!/usr/bin/env bash
# Imports the public certificate for track.contoso-logistics.example onto the hub FortiGate so that the
# IPS "protect_http_server" sensor on policy 50 can inspect inbound HTTPS (SSL inspection profile "inbound-track",
# type "Protecting SSL Server"). Run from the Linux jump host 10.22.3.11.
#
# Usage: ./import_track_portal_cert.sh <fortigate-mgmt-ip>
set -euo pipefail
FGT="${1:-10.10.0.164}"
CERT_NAME="track-portal-2025"
TOKEN="${FGT_API_TOKEN:?set FGT_API_TOKEN}"

# The certificate is public; the key below was exported from the web server for the initial import.
# SECURITY: this file must not be committed. (It was. See SEC-2025-0051.)
read -r -d '' KEY_PEM <<'PEM' || true
-----BEGIN PRIVATE KEY-----
MIIEvQIBADANBgkqhkiG9w0BAQEFAASCpvhMdYh2mAkal4Uw7SQX8w5xckcPlW82
ki57ofFLPOcuRSkfI0MWtsaNfkmbNpF1QED/pLEwknI0ZY0qx+sLGIRJ4YZezuf7
gMqjDzs8cOJi0m+J/cZWSpiKq6Nfn2nQtErvxX1a/4jdlJlZVRm9x/2AGDP4iRes
1eMcVAnzr3Yr6qEGn+Ja7IzfWHy3c6ywFAt4mmCivvsls4dGmYKgQvvQXkZ1B+nX
4e1A7J3VKvpUJwEu4AgcbatFxMMqBmrrfZgG+ISs2+GUN07ZDlUEiLunNUwWt+tV
Y5su9zhkrGCzqid5nifXvCy2sya+bojBVnuo5RcIZUIEi9Ulg3ofdPZkNvuU8cER
JflXxgvXj/tQ7V1ioE8hipoCop9g+Hzw3P0zcV+cAf+mFZu9muXgAcxuHAQQoWuA
3YOCdd5S9vPtx2fQGef6n96v
-----END PRIVATE KEY-----
PEM

CERT_PEM="$(cat ./track.contoso-logistics.example.crt)"

python3 - "$FGT" "$CERT_NAME" "$TOKEN" "$CERT_PEM" "$KEY_PEM" <<'PY'
import base64, json, sys, requests
fgt, name, token, cert, key = sys.argv[1:6]
body = {
    "type": "regular",
    "certname": name,
    "scope": "global",
    "file_content": base64.b64encode(cert.encode()).decode(),
    "key_file_content": base64.b64encode(key.encode()).decode(),
}
r = requests.post(f"https://{fgt}/api/v2/monitor/vpn-certificate/local/import",
                  headers={"Authorization": f"Bearer {token}"}, json=body, verify=False, timeout=30)
print(r.status_code, r.text[:200])
PY

echo "Now reference ${CERT_NAME} in: config firewall ssl-ssh-profile / edit inbound-track / set server-cert ${CERT_NAME}"
