"""Valid source entries, as YAML list items, that the loader tests build files from.

Tests assert exact line numbers inside files made of these: change them with care.
"""

HTTP = """\
  - id: acme-symbols
    type: http
    name: ACME symbol server
    url: https://symbols.acme.example/
    layout: {type: native}
"""
S3 = """\
  - id: acme-releases
    type: s3
    name: Release builds
    bucket: acme-symbols
    region: us-east-1
    access_key: AKIAEXAMPLE
    secret_key: {env: ACME_S3_SECRET}
    layout: {type: unified}
"""
GCS = """\
  - id: acme-nightly
    type: gcs
    name: Nightly builds
    bucket: acme-nightly
    client_email: symbols@acme.iam.gserviceaccount.com
    private_key: {env: ACME_GCS_KEY}
    layout: {type: symstore, casing: lowercase}
"""
