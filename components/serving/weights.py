"""The models bucket: model weights in S3 for models with ``weights_s3_prefix`` (KMS-encrypted, versioned, public
access blocked, TLS only), and a read-only role per such model's ServiceAccount through EKS Pod Identity."""

from __future__ import annotations

import json

import pulumi

from config.serving import Model
from kit.aws import pod_identity_role, secure_bucket
from kit.naming import safe_name
from kit.shared import Shared


def read_policy(bucket_arn: str, key_arn: str, prefix: str) -> dict:
    """Read one prefix of the bucket and decrypt with its key; nothing else."""
    prefix = prefix.strip("/")
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "ReadWeights",
                "Effect": "Allow",
                "Action": ["s3:GetObject"],
                "Resource": f"{bucket_arn}/{prefix}/*",
            },
            {
                "Sid": "ListWeights",
                "Effect": "Allow",
                "Action": ["s3:ListBucket"],
                "Resource": bucket_arn,
                "Condition": {"StringLike": {"s3:prefix": [f"{prefix}/*", prefix]}},
            },
            {"Sid": "DecryptWeights", "Effect": "Allow", "Action": ["kms:Decrypt"], "Resource": key_arn},
        ],
    }


class ModelsBucket(pulumi.ComponentResource):
    bucket_name: pulumi.Output[str]

    def __init__(self, name: str, models: list[Model], shared: Shared):
        super().__init__("agentic:aws:ModelsBucket", name, None, shared.aws_opts())
        self.bucket, self.key = secure_bucket(
            name,
            safe_name(shared.prefix, "models-", limit=37),
            f"{shared.prefix}-models",
            f"Model weights of {shared.prefix}",
            self,
        )
        namespace = shared.namespaces["inference"]
        for m in models:
            if not m.weights_s3_prefix:
                continue
            pod_identity_role(
                f"{name}-{m.name}",
                role_name=f"{shared.prefix}-model-{m.name}",
                policy=pulumi.Output.all(self.bucket.arn, self.key.arn).apply(
                    lambda a, m=m: json.dumps(read_policy(a[0], a[1], str(m.weights_s3_prefix)))  # type: ignore[misc]
                ),
                cluster_name=shared.cluster_name_output,
                namespace=namespace,
                service_account=m.name,
                parent=self,
                depends_on=list(shared.cluster_ready),
            )
        self.bucket_name = self.bucket.bucket
        self.register_outputs({"bucket": self.bucket_name})
