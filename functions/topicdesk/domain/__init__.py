"""The domain: pure rules. No boto3, no telegram imports (a unit test enforces it)."""
