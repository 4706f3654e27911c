"""moto's CloudFormation, completed for the stack's templates (applied by
``devkit.moto.patches.patch_cloudformation``, after its version check).

moto's CloudFormation lacks some resource types the stack uses. They are added as models
built on moto's own backends, so the resources exist and can be read back: secrets, alarms,
the Function URL, SNS subscriptions, queue and topic policies (and, from ``websocket_api``,
API Gateway v2). moto's ``AWS::DynamoDB::Table`` ignores TTL and point-in-time recovery: they
are applied. Must run before moto parses its first template (it caches its model list;
cleared here).
"""

from __future__ import annotations

import contextlib
import json
import types
from collections.abc import Callable, Mapping
from typing import Any

# A resource type's creation: (resource name, Properties, account, region) -> (physical id,
# attributes for Fn::GetAtt); its deletion: (physical id, account, region).
Created = tuple[str, dict[str, str]]
Create = Callable[[str, dict[str, Any], str, str], Created]
Delete = Callable[[str, str, str], None]


def _no_delete(physical_id: str, account_id: str, region_name: str) -> None:
    return None


def _resource_type(
    class_name: str, cfn_type: str, create: Create, delete: Delete = _no_delete, name_type: str = ""
) -> type:
    """A CloudFormation model class for moto (a direct subclass of CloudFormationModel: moto
    lists only those), its life cycle given by ``create`` and ``delete``."""
    from moto.cloudformation.exceptions import UnformattedGetAttTemplateException
    from moto.core.common_models import CloudFormationModel

    def __init__(self: Any, physical_id: str, attributes: Mapping[str, str]) -> None:
        self._physical_id = physical_id
        self._attributes = dict(attributes)

    def get_cfn_attribute(self: Any, attribute_name: str) -> str:
        if attribute_name not in self._attributes:
            raise UnformattedGetAttTemplateException()
        return str(self._attributes[attribute_name])

    def create_from_cloudformation_json(
        cls: Any,
        /,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> Any:
        properties = cloudformation_json.get("Properties", {})
        return cls(*create(resource_name, properties, account_id, region_name))

    def update_from_cloudformation_json(
        cls: Any,
        /,
        original_resource: Any,
        new_resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> Any:
        original_resource.delete(account_id, region_name)
        return cls.create_from_cloudformation_json(
            new_resource_name, cloudformation_json, account_id, region_name
        )

    def body(namespace: dict[str, Any]) -> None:
        namespace.update(
            {
                "__init__": __init__,
                "physical_resource_id": property(lambda self: self._physical_id),
                "has_cfn_attr": classmethod(lambda cls, attr: True),
                "get_cfn_attribute": get_cfn_attribute,
                "is_created": lambda self: True,
                "cloudformation_name_type": staticmethod(lambda: name_type),
                "cloudformation_type": staticmethod(lambda: cfn_type),
                "create_from_cloudformation_json": classmethod(create_from_cloudformation_json),
                "update_from_cloudformation_json": classmethod(update_from_cloudformation_json),
                "delete": lambda self, account_id, region_name: delete(
                    self._physical_id, account_id, region_name
                ),
            }
        )

    # A class of its own name each: moto files model classes by name.
    return types.new_class(class_name, (CloudFormationModel,), exec_body=body)


def _flag(value: Any, default: bool = False) -> bool:
    return str(default if value is None else value).lower() == "true"


def _secret(name: str, p: dict[str, Any], account_id: str, region: str) -> Created:
    from moto.secretsmanager.models import secretsmanager_backends

    backend = secretsmanager_backends[account_id][region]
    value = p.get("SecretString")
    generate = p.get("GenerateSecretString")
    if value is None and generate is not None:
        value = backend.get_random_password(
            password_length=int(generate.get("PasswordLength", 32)),
            exclude_characters=generate.get("ExcludeCharacters", ""),
            exclude_numbers=bool(generate.get("ExcludeNumbers", False)),
            exclude_punctuation=bool(generate.get("ExcludePunctuation", False)),
            exclude_uppercase=bool(generate.get("ExcludeUppercase", False)),
            exclude_lowercase=bool(generate.get("ExcludeLowercase", False)),
            include_space=bool(generate.get("IncludeSpace", False)),
            require_each_included_type=bool(generate.get("RequireEachIncludedType", True)),
        )
        value = json.loads(value)["RandomPassword"] if value.startswith("{") else value
    created = json.loads(
        backend.create_secret(
            name=name,
            secret_string=value,
            secret_binary=None,
            description=p.get("Description"),
            tags=p.get("Tags", []),
            kms_key_id=p.get("KmsKeyId"),
            client_request_token=None,
            replica_regions=[],
            force_overwrite=False,
        )
    )
    return created["ARN"], {"Id": created["ARN"]}


def _delete_secret(arn: str, account_id: str, region: str) -> None:
    from moto.secretsmanager.models import secretsmanager_backends

    secretsmanager_backends[account_id][region].delete_secret(
        secret_id=arn, recovery_window_in_days=None, force_delete_without_recovery=True
    )


def _alarm(name: str, p: Any, account_id: str, region: str) -> Created:
    from moto.cloudwatch.models import cloudwatch_backends

    alarm = cloudwatch_backends[account_id][region].put_metric_alarm(
        name=name,
        namespace=p.get("Namespace"),
        metric_name=p.get("MetricName"),
        comparison_operator=p.get("ComparisonOperator"),
        evaluation_periods=int(p.get("EvaluationPeriods", 1)),
        period=int(p["Period"]),
        threshold=float(p["Threshold"]),
        statistic=p.get("Statistic"),
        extended_statistic=p.get("ExtendedStatistic"),
        description=p.get("AlarmDescription"),
        dimensions=p.get("Dimensions", []),
        alarm_actions=p.get("AlarmActions", []),
        ok_actions=p.get("OKActions", []),
        insufficient_data_actions=p.get("InsufficientDataActions", []),
        datapoints_to_alarm=int(p["DatapointsToAlarm"]) if "DatapointsToAlarm" in p else None,
        unit=p.get("Unit"),
        actions_enabled=_flag(p.get("ActionsEnabled"), default=True),
        treat_missing_data=p.get("TreatMissingData"),
    )
    return name, {"Arn": alarm.alarm_arn}


def _delete_alarm(name: str, account_id: str, region: str) -> None:
    from moto.cloudwatch.models import cloudwatch_backends

    cloudwatch_backends[account_id][region].delete_alarms([name])


def _function_url(name: str, p: dict[str, Any], account_id: str, region: str) -> Created:
    from moto.awslambda.models import lambda_backends

    target = p["TargetFunctionArn"]
    config = {"AuthType": p.get("AuthType", "NONE"), "InvokeMode": p.get("InvokeMode")}
    if "Cors" in p:
        config["Cors"] = p["Cors"]
    backend = lambda_backends[account_id][region]
    url = backend.create_function_url_config(target, config).to_dict()
    function_arn = backend.get_function(target).function_arn
    return function_arn, {"FunctionUrl": url["FunctionUrl"], "FunctionArn": function_arn}


def _delete_function_url(function_arn: str, account_id: str, region: str) -> None:
    from moto.awslambda.models import lambda_backends

    with contextlib.suppress(Exception):
        lambda_backends[account_id][region].delete_function_url_config(function_arn)


def _subscription(name: str, p: dict[str, Any], account_id: str, region: str) -> Created:
    from moto.sns.models import sns_backends

    subscription = sns_backends[account_id][region].subscribe(
        p["TopicArn"], p["Endpoint"], p["Protocol"]
    )
    return subscription.arn, {"Arn": subscription.arn}


def _delete_subscription(arn: str, account_id: str, region: str) -> None:
    from moto.sns.models import sns_backends

    sns_backends[account_id][region].unsubscribe(arn)


def _queue_policy(name: str, p: dict[str, Any], account_id: str, region: str) -> Created:
    from moto.sqs.models import sqs_backends

    policy = json.dumps(p["PolicyDocument"])
    for queue_url in p.get("Queues", []):
        queue_name = queue_url.rstrip("/").rsplit("/", 1)[-1]
        sqs_backends[account_id][region].set_queue_attributes(queue_name, {"Policy": policy})
    return name, {"Id": name}


def _topic_policy(name: str, p: dict[str, Any], account_id: str, region: str) -> Created:
    from moto.sns.models import sns_backends

    policy = json.dumps(p["PolicyDocument"])
    for topic_arn in p.get("Topics", []):
        sns_backends[account_id][region].set_topic_attribute(topic_arn, "Policy", policy)
    return name, {"Id": name}


def _apply_table_settings(table: Any, p: dict[str, Any], account_id: str, region: str) -> None:
    """TTL and point-in-time recovery, which moto's ``AWS::DynamoDB::Table`` ignores."""
    from moto.dynamodb.models import dynamodb_backends

    backend = dynamodb_backends[account_id][region]
    ttl = p.get("TimeToLiveSpecification")
    if ttl:
        backend.update_time_to_live(
            table.name,
            {"AttributeName": ttl["AttributeName"], "Enabled": _flag(ttl.get("Enabled"))},
        )
    pitr = p.get("PointInTimeRecoverySpecification")
    if pitr:
        enabled = _flag(pitr.get("PointInTimeRecoveryEnabled"))
        backend.update_continuous_backups(table.name, {"PointInTimeRecoveryEnabled": enabled})


def complete_cloudformation() -> None:
    """Add the missing resource types and the tables' settings (call once)."""
    from moto.cloudformation import parsing
    from moto.dynamodb.models.table import Table

    from devkit.moto import websocket_api

    _resource_type(
        "SecretModel", "AWS::SecretsManager::Secret", _secret, _delete_secret, name_type="Name"
    )
    _resource_type(
        "AlarmModel", "AWS::CloudWatch::Alarm", _alarm, _delete_alarm, name_type="AlarmName"
    )
    _resource_type("FunctionUrlModel", "AWS::Lambda::Url", _function_url, _delete_function_url)
    _resource_type(
        "SubscriptionModel", "AWS::SNS::Subscription", _subscription, _delete_subscription
    )
    _resource_type("QueuePolicyModel", "AWS::SQS::QueuePolicy", _queue_policy)
    _resource_type("TopicPolicyModel", "AWS::SNS::TopicPolicy", _topic_policy)
    websocket_api.register(_resource_type)  # the widget's API Gateway v2 WebSocket API

    table_class: Any = Table
    create_table = table_class.create_from_cloudformation_json.__func__

    def create_table_with_settings(cls: Any, /, *args: Any, **kwargs: Any) -> Any:
        table = create_table(cls, *args, **kwargs)
        cloudformation_json, account_id, region_name = args[1:4]
        _apply_table_settings(
            table, cloudformation_json.get("Properties", {}), account_id, region_name
        )
        return table

    table_class.create_from_cloudformation_json = classmethod(create_table_with_settings)
    parsing.get_model_list.cache_clear()
    parsing.get_model_map.cache_clear()
    parsing.get_name_type_map.cache_clear()
