"""Operations CLI for any stage (real or `local`): webhook, dead letters, sessions, secrets.

make ops STAGE=prod ARGS="dlq list"
python -m ops --stage local dlq replay --all
"""
