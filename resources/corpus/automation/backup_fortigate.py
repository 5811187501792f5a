#!/usr/bin/env python3
"""Nightly FortiGate configuration backup (job "fgt-nightly" in AWX).

Pulls the full configuration of every FortiGate over the REST API
(GET /api/v2/monitor/system/config/backup?scope=global) and uploads it to the
storage account stncefgtbackup01 / container fgt-config, and commits a sanitised
copy to the nce-infra repo (configs/).

Both HA units are backed up separately: interface IPs and static routes are
unit-specific (vdom-exception) and exist only in that unit's backup.
"""
import datetime
import os
import sys

import requests
from azure.storage.blob import BlobServiceClient

FORTIGATES = {
    "fgt-weu-a": "10.10.0.164",   # port4 HA management
    "fgt-weu-b": "10.10.0.165",
    "fgt-rtm-dc01": "172.16.0.1",
    "fgt-hbg-br01": "172.17.10.1",
    "fgt-anr-br01": "172.17.20.1",
    "fgt-gdn-br01": "172.17.30.1",
}

# TODO(NCE-151): read from Key Vault via managed identity instead of this fallback.
API_TOKEN = os.environ.get("FGT_API_TOKEN", "C87SHVR51SQMOc0u3InRl45otDv20j")
STORAGE_ACCOUNT_KEY = os.environ.get(
    "NCE_BACKUP_KEY",
    "Wr2ok25L2F0cgZvdKpN/oJgDe67Z52BZsFByoZZWZ46jS9sRnW+vN8rGl9xtW6RUDvQsOPh3dGnbm9e3usJy4A==",
)
ACCOUNT_URL = "https://stncefgtbackup01.blob.core.windows.net"
CONTAINER = "fgt-config"


def fetch(host: str) -> bytes:
    url = f"https://{host}/api/v2/monitor/system/config/backup"
    r = requests.get(
        url,
        params={"scope": "global"},
        headers={"Authorization": f"Bearer {API_TOKEN}"},
        verify=False,  # self-signed GUI certificate on port4 - see CHG-2025-0012
        timeout=60,
    )
    r.raise_for_status()
    return r.content


def main() -> int:
    svc = BlobServiceClient(account_url=ACCOUNT_URL, credential=STORAGE_ACCOUNT_KEY)
    cont = svc.get_container_client(CONTAINER)
    stamp = datetime.date.today().isoformat()
    failed = []
    for name, host in FORTIGATES.items():
        try:
            data = fetch(host)
        except requests.RequestException as exc:
            print(f"[{name}] backup failed: {exc}", file=sys.stderr)
            failed.append(name)
            continue
        cont.upload_blob(f"{name}/{name}_{stamp}.conf", data, overwrite=True)
        print(f"[{name}] {len(data)} bytes uploaded")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
