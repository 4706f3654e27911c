"""DynamoDB tables (see docs/architecture.md, "Tables")."""

from __future__ import annotations

from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct

from infra.config import StageConfig
from infra.functions import removal_policy

_STRING = dynamodb.AttributeType.STRING


class Storage(Construct):
    """Data (sessions, topics, message map, dead letters), rate limits, idempotency."""

    def __init__(self, scope: Construct, construct_id: str, *, config: StageConfig) -> None:
        super().__init__(scope, construct_id)
        self.data_table = self._table(
            config,
            "DataTable",
            "data",
            partition_key="pk",
            sort_key="sk",
            ttl_attribute="expires_at",
        )
        self.limits_table = self._table(
            config, "LimitsTable", "limits", partition_key="pk", ttl_attribute="expires_at"
        )
        # Powertools idempotency's DynamoDBPersistenceLayer defaults: key `id`, TTL `expiration`.
        self.idempotency_table = self._table(
            config,
            "IdempotencyTable",
            "idempotency",
            partition_key="id",
            ttl_attribute="expiration",
        )

    def _table(
        self,
        config: StageConfig,
        construct_id: str,
        suffix: str,
        *,
        partition_key: str,
        ttl_attribute: str,
        sort_key: str | None = None,
    ) -> dynamodb.Table:
        return dynamodb.Table(
            self,
            construct_id,
            table_name=config.name(suffix),
            partition_key=dynamodb.Attribute(name=partition_key, type=_STRING),
            sort_key=dynamodb.Attribute(name=sort_key, type=_STRING) if sort_key else None,
            time_to_live_attribute=ttl_attribute,
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            deletion_protection=config.protect_data,
            removal_policy=removal_policy(config),
        )
