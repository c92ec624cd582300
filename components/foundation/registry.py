"""ECR repository for the agent-runtime image: scan on push, immutable tags, KMS encryption, lifecycle policy."""

from __future__ import annotations

import json

import pulumi
import pulumi_aws as aws

from config.agents import AgentRuntimeImage
from kit.aws import kms_key
from kit.shared import Shared


def lifecycle_policy(keep: int) -> str:
    return json.dumps(
        {
            "rules": [
                {
                    "rulePriority": 1,
                    "description": "Expire untagged images after 7 days",
                    "selection": {
                        "tagStatus": "untagged",
                        "countType": "sinceImagePushed",
                        "countUnit": "days",
                        "countNumber": 7,
                    },
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


class ImageRegistry(pulumi.ComponentResource):
    repository_url: pulumi.Output[str]

    def __init__(self, name: str, cfg: AgentRuntimeImage, shared: Shared):
        super().__init__("agentic:aws:ImageRegistry", name, None, shared.aws_opts())
        child = pulumi.ResourceOptions(parent=self)
        self.repository_name = f"{shared.prefix}/{cfg.repository}"
        self.key = kms_key(f"{name}-key", f"{shared.prefix}-ecr", f"ECR encryption for {self.repository_name}", self)
        self.repository = aws.ecr.Repository(
            f"{name}-repo",
            name=self.repository_name,
            image_tag_mutability="IMMUTABLE",
            image_scanning_configuration={"scan_on_push": cfg.scan_on_push},
            encryption_configurations=[{"encryption_type": "KMS", "kms_key": self.key.arn}],
            force_delete=False,
            opts=child,
        )
        aws.ecr.LifecyclePolicy(
            f"{name}-lifecycle",
            repository=self.repository.name,
            policy=lifecycle_policy(cfg.keep_images),
            opts=child,
        )
        self.repository_url = self.repository.repository_url
        self.register_outputs({"repository_url": self.repository_url})
