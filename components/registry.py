"""ECR repository for the agent-runtime image: scan on push, immutable tags, KMS encryption, lifecycle policy."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from stacks.config import AgentRuntimeImage


def lifecycle_policy(keep: int) -> str:
    return json.dumps(
        {
            "rules": [
                {
                    "rulePriority": 1,
                    "description": "Expire untagged images after 7 days",
                    "selection": {"tagStatus": "untagged", "countType": "sinceImagePushed", "countUnit": "days",
                                  "countNumber": 7},
                    "action": {"type": "expire"},
                },
                {
                    "rulePriority": 2,
                    "description": f"Keep the newest {keep} images",
                    "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": keep},
                    "action": {"type": "expire"},
                },
            ]
        }
    )


@dataclass(frozen=True)
class RegistryArgs:
    cluster_name: str
    config: AgentRuntimeImage


class ImageRegistry(pulumi.ComponentResource):
    repository_url: pulumi.Output[str]

    def __init__(self, name: str, args: RegistryArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("agentic:aws:ImageRegistry", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.repository_name = f"{args.cluster_name}/{args.config.repository}"
        self.key = aws.kms.Key(
            f"{name}-key",
            description=f"ECR encryption for {self.repository_name}",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            opts=child,
        )
        aws.kms.Alias(
            f"{name}-key-alias", name=f"alias/{args.cluster_name}-ecr", target_key_id=self.key.key_id, opts=child
        )
        self.repository = aws.ecr.Repository(
            f"{name}-repo",
            name=self.repository_name,
            image_tag_mutability="IMMUTABLE",
            image_scanning_configuration={"scan_on_push": args.config.scan_on_push},
            encryption_configurations=[{"encryption_type": "KMS", "kms_key": self.key.arn}],
            force_delete=False,
            opts=child,
        )
        aws.ecr.LifecyclePolicy(
            f"{name}-lifecycle",
            repository=self.repository.name,
            policy=lifecycle_policy(args.config.keep_images),
            opts=child,
        )
        self.repository_url = self.repository.repository_url
        self.register_outputs({"repository_url": self.repository_url})
