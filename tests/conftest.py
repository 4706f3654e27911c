"""Suite-wide settings, applied before any test module imports a Lambda handler.

Lambda sets these variables before importing a handler; Powertools reads them at import.
"""

from __future__ import annotations

import os

os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "Topicdesk/test")
os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "topicdesk-test")
os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
# Never reach a real AWS account from a test.
os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.pop("AWS_PROFILE", None)

from local.moto_fixes import fix_fifo_redelivery_order

fix_fifo_redelivery_order()
